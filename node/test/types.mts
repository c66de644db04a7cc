// Type-checked with `tsc --noEmit` (never run): the ES module variant of types.ts. The default
// import is the client class here too (index.d.mts), as index.mjs exports it.
import FluidCloud, { FluidCloud as Named, FluidCloudError, InvalidInputError, type File, type Files } from 'fluidcloud';

export async function usage(): Promise<void> {
  const fc: Named = new FluidCloud({ apiKey: 'fck_test_x', baseUrl: 'http://127.0.0.1:1' });
  const files: Files = fc.files;
  const f: File = await files.upload(new Uint8Array(3), { spaceId: 's' });
  void f.sha256;
  try {
    await fc.spaces.list();
  } catch (e) {
    if (e instanceof InvalidInputError) void e.call;
    if (e instanceof FluidCloudError) void e.kind;
  }
  // @ts-expect-error: Files is a type only; the package exports no such value
  void (fc.files instanceof Files);
}
