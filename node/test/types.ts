// Type-checked with `tsc --noEmit` (never run): the API as a TypeScript user writes it, from a
// CommonJS module (types.mts is the ES module variant; package.test.js compiles and runs both
// styles against the installed package).
import { Readable } from 'node:stream';
import FluidCloudDefault, {
  FluidCloud, FluidCloudError, ApiError, AuthError, QuotaExceededError, PermissionError, NotFoundError,
  ConflictError, ConnectionError, TimeoutError, AbortError, InvalidInputError, FileSystemError, IntegrityError,
  type File, type Folder, type Space, type Share, type Link, type Quota, type DelegatedToken, type DownloadUrl,
  type UploadOptions, type ClientOptions, Files, type Spaces, type Folders, type Shares, type QuotaApi,
} from 'fluidcloud';

export async function usage(): Promise<void> {
  const options: ClientOptions = { apiKey: 'fck_test_x', baseUrl: 'http://127.0.0.1:1', apiVersion: 'v1', timeout: 5000, maxRetries: 1, concurrency: 4 };
  const fc = new FluidCloud(options);
  const other: FluidCloud = new FluidCloudDefault();
  const base: string = fc.baseUrl;

  const spaces: Space[] = await fc.spaces.list();
  const space: Space = await fc.spaces.create('Brand Assets');
  const folders: Folder[] = await fc.folders.list(space.id, { parentId: null, trash: false });
  const folder: Folder = await fc.folders.create('docs', space.id, { parentId: folders[0]?.id });
  await fc.folders.rename(folder.id, 'docs2');
  await fc.folders.move(folder.id, null);
  await fc.folders.delete(folder.id);
  await fc.folders.restore(folder.id);

  const ac = new AbortController();
  const upload: UploadOptions = {
    spaceId: space.id, folderId: folder.id, name: 'a.txt', contentType: 'text/plain', public: true, app: 'notes',
    clientKey: 'k', onProgress: (done: number, total: number) => void (done / total), signal: ac.signal,
  };
  const a: File = await fc.files.upload('logo.png', upload);
  const b: File = await fc.files.upload(Buffer.from('x'), { spaceId: space.id });
  const c: File = await fc.files.upload(new Uint8Array(3), { spaceId: space.id });
  const d: File = await fc.files.upload(Readable.from(['x']), { spaceId: space.id, size: 1 });
  const url: string | null = a.publicUrl;
  const name: string = b.originalName;
  const size: number | null = c.size;
  void [url, name, size, d, spaces, base, other];

  const files: File[] = await fc.files.list(space.id, { folderId: null, trash: true, app: 'notes' });
  await fc.files.get(files[0].id);
  await fc.files.resolve('k', { app: 'notes' });
  await fc.files.rename(a.id, 'b.txt');
  await fc.files.move(a.id, null);
  await fc.files.delete(a.id);
  await fc.files.restore(a.id);
  const dl: DownloadUrl = await fc.files.downloadUrl(a.id);
  const pub: Link = await fc.files.publicUrl(a.id);
  const signed: Link = await fc.files.signedUrl(a.id, { expiresInDays: 7, permission: 'download' });
  await fc.files.download(a.id, '/tmp/x', { signal: ac.signal, onProgress: () => {} });
  void [dl.expiresAt, pub.url, signed.expiresAt];

  const shares: Share[] = await fc.shares.list({ fileId: a.id, includeInactive: true });
  const none: void = await fc.shares.revoke(shares[0].id);
  const q: Quota = await fc.quota.usage();
  const used: number = q.bytesUsed + (q.byApp?.[0]?.bytesUsed ?? 0);
  const token: DelegatedToken = await fc.exchangeServiceToken('jwt', 'notes', { jobId: 'j', ttlSeconds: 60 });
  const user: FluidCloud = await fc.asUser('jwt', 'notes', { ttlSeconds: 60 });
  void [none, used, token.token, user];

  try {
    await fc.files.get('x');
  } catch (e) {
    if (e instanceof ApiError) {
      const s: number = e.status;
      const r: string | null = e.requestId;
      const det: unknown = e.detail;
      void [s, r, det];
    }
    if (e instanceof FileSystemError) void e.code;
    if (e instanceof FluidCloudError) void [e.kind, e.call, e.message];
    void [AuthError, QuotaExceededError, PermissionError, NotFoundError, ConflictError, ConnectionError, TimeoutError, AbortError, InvalidInputError, IntegrityError];
  }
  const namespaces: [Spaces, Folders, Files, Shares, QuotaApi] = [fc.spaces, fc.folders, fc.files, fc.shares, fc.quota];
  void namespaces;
  // @ts-expect-error: the namespaces are types only; the package exports no such value
  void (fc.files instanceof Files);
  fc.close();
}

// @ts-expect-error: spaceId is required
void new FluidCloud().files.upload('x', {});
// @ts-expect-error: permission is 'view' or 'download'
void new FluidCloud().files.signedUrl('x', { permission: 'edit' });
