// Types of the `fluidcloud` package (index.js). The native addon's own declarations, generated
// by the napi CLI, are in native.d.ts.
/// <reference types="node" />
import type { Readable } from 'node:stream';

export interface ClientOptions {
  /** Default: `FLUIDCLOUD_API_KEY`. */
  apiKey?: string;
  /** Default: `FLUIDCLOUD_BASE_URL`, else `https://api-cloud.fluidvip.com`. */
  baseUrl?: string;
  /** Default `'v1'`. */
  apiVersion?: string;
  /**
   * The longest wait for the server to make progress (take the next piece of a body, start
   * its answer, send the next piece), in milliseconds (default 300000). A slow transfer that
   * keeps moving is not cut off; use `signal` to bound a whole call.
   */
  timeout?: number;
  /** Retries of a failed idempotent request (default 2). */
  maxRetries?: number;
  /** Parts in flight at once during a multipart upload (default 8). */
  concurrency?: number;
}

export interface Space {
  id: string;
  name: string;
  tenantId: string | null;
  createdAt: string | null;
  updatedAt: string | null;
}

export interface Folder {
  id: string;
  name: string;
  spaceId: string | null;
  parentId: string | null;
  tenantId: string | null;
  deletedAt: string | null;
  createdAt: string | null;
  updatedAt: string | null;
}

export interface File {
  id: string;
  originalName: string;
  name: string | null;
  spaceId: string | null;
  folderId: string | null;
  tenantId: string | null;
  mime: string | null;
  size: number | null;
  sha256: string | null;
  scanStatus: 'pending' | 'clean' | 'infected' | 'error' | (string & {}) | null;
  status: 'pending' | 'ready' | (string & {}) | null;
  createdBy: string | null;
  sourceApp: string | null;
  clientKey: string | null;
  deletedAt: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  /** The permanent public link, set by an upload with `public: true`. */
  publicUrl: string | null;
}

export type Permission = 'view' | 'download';

/** A newly minted link; `expiresAt` is null for the permanent public link. */
export interface Link {
  url: string;
  id: string;
  permission: Permission | (string & {});
  expiresAt: string | null;
}

/** A listed share (its URL is never listed again). */
export interface Share {
  id: string;
  fileId: string;
  permission: Permission | (string & {});
  expiresAt: string | null;
  maxDownloads: number | null;
  downloadCount: number;
  revoked: boolean;
  hasPassword: boolean;
  createdAt: string | null;
  updatedAt: string | null;
}

export interface AppUsage {
  app: string | null;
  bytesUsed: number;
  files: number;
}

export interface Quota {
  bytesUsed: number;
  bytesLimit: number;
  linksUsed: number;
  linksLimit: number;
  byApp: AppUsage[] | null;
}

export interface DelegatedToken {
  token: string;
  expiresIn: number;
  tenantId: string | null;
  userId: string | null;
  app: string | null;
  tokenType: string;
}

export interface DownloadUrl {
  url: string;
  expiresAt: string | null;
}

/** Called with (bytes confirmed, total): monotonic, ends exactly at the total. */
export type ProgressCallback = (done: number, total: number) => void;

/**
 * A path (or file URL), in-memory bytes (shared with the upload, not copied: do not change them
 * until it settles), or a Node stream (then `size` is required).
 */
export type UploadSource = string | URL | Uint8Array | Readable;

export interface UploadOptions {
  spaceId: string;
  folderId?: string | null;
  /** The stored name; default: the path's file name, else `upload.bin`. */
  name?: string | null;
  /** Default: guessed from the name, else `application/octet-stream`. */
  contentType?: string | null;
  /** Also mint the permanent public link and set `publicUrl`. */
  public?: boolean;
  app?: string | null;
  clientKey?: string | null;
  /** The byte count: required for a stream, which must yield exactly this many bytes. */
  size?: number;
  onProgress?: ProgressCallback;
  /** Aborts the upload: it rejects promptly with an `AbortError` and stores nothing. */
  signal?: AbortSignal;
}

export interface DownloadOptions {
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface DelegationOptions {
  jobId?: string | null;
  ttlSeconds?: number;
}

export declare class Spaces {
  private constructor();
  list(): Promise<Space[]>;
  create(name: string): Promise<Space>;
}

export declare class Folders {
  private constructor();
  list(spaceId: string, options?: { parentId?: string | null; trash?: boolean }): Promise<Folder[]>;
  create(name: string, spaceId: string, options?: { parentId?: string | null }): Promise<Folder>;
  rename(id: string, name: string): Promise<Folder>;
  /** `null` moves the folder to the space root. */
  move(id: string, parentId: string | null): Promise<Folder>;
  delete(id: string): Promise<Folder>;
  restore(id: string): Promise<Folder>;
}

export declare class Files {
  private constructor();
  upload(source: UploadSource, options: UploadOptions): Promise<File>;
  list(spaceId: string, options?: { folderId?: string | null; trash?: boolean; app?: string | null }): Promise<File[]>;
  get(id: string): Promise<File>;
  resolve(clientKey: string, options?: { app?: string | null }): Promise<File>;
  rename(id: string, name: string): Promise<File>;
  /** `null` moves the file to the space root. */
  move(id: string, folderId: string | null): Promise<File>;
  delete(id: string): Promise<File>;
  restore(id: string): Promise<File>;
  downloadUrl(id: string): Promise<DownloadUrl>;
  publicUrl(id: string): Promise<Link>;
  signedUrl(id: string, options?: { expiresInDays?: number; permission?: Permission }): Promise<Link>;
  download(id: string, destPath: string, options?: DownloadOptions): Promise<File>;
}

export declare class Shares {
  private constructor();
  list(options?: { fileId?: string | null; includeInactive?: boolean }): Promise<Share[]>;
  revoke(shareId: string): Promise<void>;
}

export declare class QuotaApi {
  private constructor();
  usage(): Promise<Quota>;
}

export declare class FluidCloud {
  constructor(options?: ClientOptions);
  readonly spaces: Spaces;
  readonly folders: Folders;
  readonly files: Files;
  readonly shares: Shares;
  readonly quota: QuotaApi;
  readonly baseUrl: string;
  exchangeServiceToken(userJwt: string, app: string, options?: DelegationOptions): Promise<DelegatedToken>;
  asUser(userJwt: string, app: string, options?: DelegationOptions): Promise<FluidCloud>;
  close(): void;
}
export default FluidCloud;

/** The core's kind codes, one per error class. */
export type ErrorKind =
  | 'auth'
  | 'quota_exceeded'
  | 'permission'
  | 'not_found'
  | 'conflict'
  | 'api'
  | 'connect'
  | 'timeout'
  | 'cancelled'
  | 'invalid_input'
  | 'io'
  | 'integrity';

/** Base class of every error this SDK throws. */
export declare class FluidCloudError extends Error {
  readonly kind: ErrorKind | (string & {});
  /** The SDK call that failed, e.g. `files.get`. */
  readonly call: string | null;
}

/** A non-2xx answer from the API or from storage. */
export declare class ApiError extends FluidCloudError {
  readonly status: number;
  /** The parsed `detail` of the error body (string, object or array), or its raw text. */
  readonly detail: unknown;
  /** The server's X-Request-Id. */
  readonly requestId: string | null;
  /** Retry-After in seconds, when sent. */
  readonly retryAfter: number | null;
}
export declare class AuthError extends ApiError {}
export declare class QuotaExceededError extends ApiError {}
export declare class PermissionError extends ApiError {}
export declare class NotFoundError extends ApiError {}
export declare class ConflictError extends ApiError {}
/** The connection could not be made, or broke. */
export declare class ConnectionError extends FluidCloudError {}
/** The server made no progress for the `timeout` option. */
export declare class TimeoutError extends ConnectionError {}
/** Aborted through `signal`; `name` is `'AbortError'` and `cause` the signal's reason. */
export declare class AbortError extends FluidCloudError {}
export declare class InvalidInputError extends FluidCloudError {}
/** A local file could not be read or written; `code` is e.g. `'ENOENT'`. */
export declare class FileSystemError extends FluidCloudError {
  readonly code: string;
}
/** A size or SHA-256 mismatch, or a source that changed while it was read. */
export declare class IntegrityError extends FluidCloudError {}
