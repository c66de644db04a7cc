// FluidCloud from Node: create a space, upload a file with a permanent public link, print the
// link. The key and origin come from FLUIDCLOUD_API_KEY / FLUIDCLOUD_BASE_URL.
//
//   node quickstart.mjs [FILE]   (without FILE, uploads a small hello.txt)
// from a project where the package is installed (`npm install PATH/TO/node`, after its build).
import { ApiError, FluidCloud } from 'fluidcloud';

const fc = new FluidCloud();
try {
  const space = await fc.spaces.create('Brand Assets');
  const [path] = process.argv.slice(2);
  const file = path
    ? await fc.files.upload(path, { spaceId: space.id, public: true })
    : await fc.files.upload(Buffer.from('Hello from FluidCloud!\n'), { spaceId: space.id, name: 'hello.txt', public: true });
  console.log(file.publicUrl);
} catch (err) {
  // Every error from the service carries its status, detail and request id.
  const extra = err instanceof ApiError ? ` (status ${err.status}, request id ${err.requestId})` : '';
  console.error(`${err.name}: ${err.message}${extra}`);
  process.exitCode = 1;
} finally {
  fc.close();
}
