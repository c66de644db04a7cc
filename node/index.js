'use strict';
// The `fluidcloud` package: a thin layer over the native addon (src/lib.rs). It checks and
// converts options, turns results into camelCase objects and error payloads into the error
// classes below (by the core's kind code, in `errorFrom`, the one place that maps them), and
// feeds Node streams and AbortSignals to the native call. Every behaviour lives in the core.

const fs = require('node:fs');
const path = require('node:path');
const { Readable } = require('node:stream');
const { fileURLToPath } = require('node:url');

const native = require('./fluidcloud.node');

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** Base class of every error this SDK throws. */
class FluidCloudError extends Error {
  constructor(message, fields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = new.target.name;
    /** The core's kind code: 'not_found', 'timeout', 'cancelled', … */
    this.kind = fields.kind ?? 'unknown';
    /** The method that failed, as the user called it, e.g. 'files.get' or 'exchangeServiceToken'. */
    this.call = fields.call ?? null;
  }
}

/** A non-2xx answer from the API or from storage. */
class ApiError extends FluidCloudError {
  constructor(message, fields = {}) {
    super(message, fields);
    /** The HTTP status. */
    this.status = fields.status ?? 0;
    /** The parsed `detail` of the error body (string, object or array), or its raw text. */
    this.detail = fields.detail ?? null;
    /** The server's X-Request-Id, to quote to support. */
    this.requestId = fields.requestId ?? null;
    /** Retry-After in seconds, when the server sent one. */
    this.retryAfter = fields.retryAfter ?? null;
  }
}
/** 401: the API key or token is missing, unknown, expired or revoked. */
class AuthError extends ApiError {}
/** 402: storage or link quota exceeded. */
class QuotaExceededError extends ApiError {}
/** 403: the key lacks a scope, or access is denied. */
class PermissionError extends ApiError {}
/** 404: no such resource (or another tenant's). */
class NotFoundError extends ApiError {}
/** 409: a conflict, e.g. sharing a file whose scan is not clean. */
class ConflictError extends ApiError {}

/** The connection could not be made, or broke. */
class ConnectionError extends FluidCloudError {}
/** The server made no progress for the `timeout` option. */
class TimeoutError extends ConnectionError {}
/** The call was aborted through its `signal` (`name` is 'AbortError'). */
class AbortError extends FluidCloudError {}
/** An argument or option is unusable (empty ID, missing API key, wrong type, …). */
class InvalidInputError extends FluidCloudError {}
/** Reading or writing a local file failed; `code` is 'ENOENT', 'EACCES', 'EISDIR', … */
class FileSystemError extends FluidCloudError {
  constructor(message, fields = {}) {
    super(message, fields);
    this.code = fields.code ?? 'EIO';
  }
}
/** Bytes did not match: a size or SHA-256 mismatch, or a source that changed while read. */
class IntegrityError extends FluidCloudError {}

const ERROR_CLASSES = {
  auth: AuthError,
  quota_exceeded: QuotaExceededError,
  permission: PermissionError,
  not_found: NotFoundError,
  conflict: ConflictError,
  api: ApiError,
  connect: ConnectionError,
  timeout: TimeoutError,
  cancelled: AbortError,
  invalid_input: InvalidInputError,
  io: FileSystemError,
  integrity: IntegrityError,
};

/**
 * The one place where a payload from the core becomes an error: by its kind code. `call` is the
 * method as the user called it; it replaces the core's name for the step that failed (snake
 * case, or an inner step such as an upload's public link), which the message still shows.
 */
function errorFrom(payload, { call, cause } = {}) {
  const Class = ERROR_CLASSES[payload.kind] ?? (payload.status ? ApiError : FluidCloudError);
  const fields = { ...payload, call: call ?? payload.call, cause };
  let message = payload.message ?? payload.kind;
  // The core's message starts with its own operation's name (files.signed_url): the method
  // that was called reads better, and matches err.call.
  if (call && payload.call && call !== payload.call && message.startsWith(`${payload.call}: `)) {
    message = `${call}: ${message.slice(payload.call.length + 2)}`;
  }
  return new Class(message, fields);
}

function invalid(call, message, cause) {
  return errorFrom({ kind: 'invalid_input', call, message: `${call}: ${message}` }, { cause });
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

function camel(key) {
  return key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

/** Models from the core, with camelCase keys (`original_name` → `originalName`). */
function camelize(value) {
  if (Array.isArray(value)) return value.map(camelize);
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[camel(k)] = camelize(v);
    return out;
  }
  return value;
}

function unwrap(envelope, call) {
  const parsed = JSON.parse(envelope);
  if (parsed.error) throw errorFrom(parsed.error, { call });
  return parsed.ok;
}

// ---------------------------------------------------------------------------------------------
// Argument checks
// ---------------------------------------------------------------------------------------------

function optionsObject(call, options) {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object') throw invalid(call, 'options must be an object');
  return options;
}

function checkString(call, what, value, { optional = false, nullable = false } = {}) {
  if (value === undefined && optional) return undefined;
  if (value === null && (optional || nullable)) return null;
  if (typeof value !== 'string') throw invalid(call, `${what} must be a string`);
  // A lone surrogate has no UTF-8 form: said here, not as unparsable arguments in the core.
  if (!value.isWellFormed()) throw invalid(call, `${what} holds a lone surrogate, which is not text`);
  return value;
}

function checkBool(call, what, value) {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw invalid(call, `${what} must be a boolean`);
  return value;
}

function checkCount(call, what, value, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  if (value === undefined || value === null) return undefined;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(call, `${what} must be an integer from ${min} to ${max}`);
  }
  return value;
}

const U32_MAX = 0xffffffff;

function checkSignal(call, signal) {
  if (signal === undefined || signal === null) return undefined;
  if (typeof signal !== 'object' || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function') {
    throw invalid(call, 'signal must be an AbortSignal');
  }
  return signal;
}

function checkProgress(call, onProgress) {
  if (onProgress === undefined || onProgress === null) return undefined;
  if (typeof onProgress !== 'function') throw invalid(call, 'onProgress must be a function');
  return onProgress;
}

function abortedError(call, signal) {
  return errorFrom({ kind: 'cancelled', call, message: `${call}: aborted` }, { cause: signal.reason });
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

const NATIVE = Symbol('native');
const BASE_URL = Symbol('baseUrl');

/**
 * The core's operation for each method whose JavaScript name differs from it. Everything else
 * (argument checks, errors' `call`) uses the JavaScript name; only the native call sees these.
 */
const NATIVE_OPS = {
  'files.downloadUrl': 'files.download_url',
  'files.publicUrl': 'files.public_url',
  'files.signedUrl': 'files.signed_url',
  exchangeServiceToken: 'auth.exchange_service_token',
};

/** The client's native half, or an InvalidInputError once it is closed. */
function nativeOf(client, call) {
  const n = client[NATIVE];
  if (!n) throw invalid(call, 'the client is closed');
  return n;
}

/**
 * Runs one native call; `call` is the method's JavaScript name, e.g. 'files.signedUrl'.
 * `transfer` carries what a transfer needs besides its JSON arguments: bytes, a stream,
 * progress and an AbortSignal.
 */
async function run(client, call, args, transfer = {}) {
  const { signal, onProgress, data, stream } = transfer;
  let n;
  try {
    n = nativeOf(client, call);
    if (signal?.aborted) throw abortedError(call, signal);
  } catch (e) {
    // The stream was handed over for this call: one that never starts releases it (a
    // file stream's descriptor, say) as one that ends does.
    stream?.destroy();
    throw e;
  }
  const handle = new native.CallHandle();
  let callbackError;
  const progress = onProgress
    ? (done, total) => {
        if (done < 0 || callbackError) return; // the end marker, or a callback already failed
        try {
          onProgress(done, total);
        } catch (e) {
          callbackError = { error: e };
          handle.cancel();
        }
      }
    : undefined;
  const onAbort = () => handle.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  let streamError;
  const pumping = stream
    ? pump(stream, handle).catch((e) => {
        streamError = { error: e };
      })
    : undefined;
  try {
    // `data` is copied before this returns, so later changes to it do not reach the upload.
    const envelope = await n.call(NATIVE_OPS[call] ?? call, JSON.stringify(args), handle, data, progress);
    if (callbackError) throw callbackError.error;
    const parsed = JSON.parse(envelope);
    if (parsed.error) {
      if (streamError) throw streamError.error;
      const cause = parsed.error.kind === 'cancelled' && signal?.aborted ? signal.reason : undefined;
      throw errorFrom(parsed.error, { call, cause });
    }
    return camelize(parsed.ok);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (stream && pumping) {
      // Whatever is left of the stream is not wanted any more.
      handle.end();
      if (!stream.readableEnded && !stream.destroyed) {
        handle.stopped = true;
        stream.destroy();
      }
      await pumping;
    }
  }
}

/** Feeds a Readable's chunks to the call, waiting for room before reading on. */
async function pump(stream, handle) {
  try {
    for await (const chunk of stream) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (!(bytes instanceof Uint8Array)) throw new TypeError('the stream must yield Buffers, Uint8Arrays or strings');
      if (!(await handle.write(bytes))) return; // the upload takes no more
    }
    handle.end();
  } catch (e) {
    handle.fail(e && e.message ? String(e.message) : 'the stream failed');
    if (handle.stopped) return; // destroyed by `run` once the call had settled
    throw e;
  }
}

/** The path of a `file:` URL; any other URL is an InvalidInputError, not Node's TypeError. */
function filePathOf(call, url) {
  try {
    return fileURLToPath(url);
  } catch (e) {
    throw invalid(call, `a URL source must be a local file: URL (${e.message})`, e);
  }
}

function isReadable(source) {
  return source instanceof Readable || (source !== null && typeof source === 'object' && typeof source.pipe === 'function' && typeof source[Symbol.asyncIterator] === 'function');
}

class Spaces {
  constructor(client) {
    this._c = client;
  }
  async list() {
    return run(this._c, 'spaces.list', {});
  }
  async create(name) {
    return run(this._c, 'spaces.create', { name: checkString('spaces.create', 'name', name) });
  }
}

class Folders {
  constructor(client) {
    this._c = client;
  }
  async list(spaceId, options) {
    const call = 'folders.list';
    const o = optionsObject(call, options);
    return run(this._c, call, {
      space_id: checkString(call, 'spaceId', spaceId),
      parent_id: checkString(call, 'parentId', o.parentId, { optional: true }),
      trash: checkBool(call, 'trash', o.trash),
    });
  }
  async create(name, spaceId, options) {
    const call = 'folders.create';
    const o = optionsObject(call, options);
    return run(this._c, call, {
      name: checkString(call, 'name', name),
      space_id: checkString(call, 'spaceId', spaceId),
      parent_id: checkString(call, 'parentId', o.parentId, { optional: true }),
    });
  }
  async rename(id, name) {
    const call = 'folders.rename';
    return run(this._c, call, { folder_id: checkString(call, 'id', id), name: checkString(call, 'name', name) });
  }
  async move(id, parentId) {
    const call = 'folders.move';
    if (parentId === undefined) throw invalid(call, 'parentId is required (null moves to the space root)');
    return run(this._c, call, { folder_id: checkString(call, 'id', id), parent_id: checkString(call, 'parentId', parentId, { nullable: true }) });
  }
  async delete(id) {
    return run(this._c, 'folders.delete', { folder_id: checkString('folders.delete', 'id', id) });
  }
  async restore(id) {
    return run(this._c, 'folders.restore', { folder_id: checkString('folders.restore', 'id', id) });
  }
}

class Files {
  constructor(client) {
    this._c = client;
  }

  async upload(source, options) {
    const call = 'files.upload';
    const o = optionsObject(call, options);
    const args = {
      space_id: checkString(call, 'spaceId', o.spaceId),
      folder_id: checkString(call, 'folderId', o.folderId, { optional: true }),
      name: checkString(call, 'name', o.name, { optional: true }),
      content_type: checkString(call, 'contentType', o.contentType, { optional: true }),
      public: checkBool(call, 'public', o.public),
      app: checkString(call, 'app', o.app, { optional: true }),
      client_key: checkString(call, 'clientKey', o.clientKey, { optional: true }),
    };
    const size = checkCount(call, 'size', o.size);
    const transfer = { signal: checkSignal(call, o.signal), onProgress: checkProgress(call, o.onProgress) };
    if (typeof source === 'string' || source instanceof URL) {
      const file = source instanceof URL ? filePathOf(call, source) : source;
      args.kind = 'path';
      args.source = path.resolve(file);
      if (size !== undefined) {
        const stat = await fs.promises.stat(args.source).catch(() => null);
        if (stat && stat.size !== size) throw invalid(call, `size is ${size} but the file holds ${stat.size} bytes`);
      }
    } else if (source instanceof Uint8Array) {
      if (size !== undefined && size !== source.byteLength) {
        throw invalid(call, `size is ${size} but the data holds ${source.byteLength} bytes`);
      }
      args.kind = 'bytes';
      transfer.data = source;
    } else if (isReadable(source)) {
      if (size === undefined) throw invalid(call, 'size is required when the source is a stream');
      args.kind = 'stream';
      args.size = size;
      transfer.stream = source;
    } else {
      throw invalid(call, 'source must be a path, a Buffer/Uint8Array or a Readable stream');
    }
    return run(this._c, call, args, transfer);
  }

  async list(spaceId, options) {
    const call = 'files.list';
    const o = optionsObject(call, options);
    return run(this._c, call, {
      space_id: checkString(call, 'spaceId', spaceId),
      folder_id: checkString(call, 'folderId', o.folderId, { optional: true }),
      trash: checkBool(call, 'trash', o.trash),
      app: checkString(call, 'app', o.app, { optional: true }),
    });
  }
  async get(id) {
    return run(this._c, 'files.get', { file_id: checkString('files.get', 'id', id) });
  }
  async resolve(clientKey, options) {
    const call = 'files.resolve';
    const o = optionsObject(call, options);
    return run(this._c, call, {
      client_key: checkString(call, 'clientKey', clientKey),
      app: checkString(call, 'app', o.app, { optional: true }),
    });
  }
  async rename(id, name) {
    const call = 'files.rename';
    return run(this._c, call, { file_id: checkString(call, 'id', id), name: checkString(call, 'name', name) });
  }
  async move(id, folderId) {
    const call = 'files.move';
    if (folderId === undefined) throw invalid(call, 'folderId is required (null moves to the space root)');
    return run(this._c, call, { file_id: checkString(call, 'id', id), folder_id: checkString(call, 'folderId', folderId, { nullable: true }) });
  }
  async delete(id) {
    return run(this._c, 'files.delete', { file_id: checkString('files.delete', 'id', id) });
  }
  async restore(id) {
    return run(this._c, 'files.restore', { file_id: checkString('files.restore', 'id', id) });
  }
  /** A short-lived presigned GET for the owner: `{ url, expiresAt }`. */
  async downloadUrl(id) {
    return run(this._c, 'files.downloadUrl', { file_id: checkString('files.downloadUrl', 'id', id) });
  }
  /** The permanent public link: `{ url, id, permission, expiresAt: null }`. */
  async publicUrl(id) {
    return run(this._c, 'files.publicUrl', { file_id: checkString('files.publicUrl', 'id', id) });
  }
  /** An expiring link (1..365 days, 'view' or 'download'). */
  async signedUrl(id, options) {
    const call = 'files.signedUrl';
    const o = optionsObject(call, options);
    const permission = o.permission ?? 'view';
    if (permission !== 'view' && permission !== 'download') throw invalid(call, "permission must be 'view' or 'download'");
    return run(this._c, call, {
      file_id: checkString(call, 'id', id),
      expires_in_days: checkCount(call, 'expiresInDays', o.expiresInDays ?? 7),
      permission,
    });
  }
  /** Downloads to `destPath` (verified, never half-written) and returns the file's metadata. */
  async download(id, destPath, options) {
    const call = 'files.download';
    const o = optionsObject(call, options);
    const dest = checkString(call, 'destPath', destPath);
    return run(
      this._c,
      call,
      { file_id: checkString(call, 'id', id), dest: path.resolve(dest) },
      { signal: checkSignal(call, o.signal), onProgress: checkProgress(call, o.onProgress) },
    );
  }
}

class Shares {
  constructor(client) {
    this._c = client;
  }
  async list(options) {
    const call = 'shares.list';
    const o = optionsObject(call, options);
    return run(this._c, call, {
      file_id: checkString(call, 'fileId', o.fileId, { optional: true }),
      include_inactive: checkBool(call, 'includeInactive', o.includeInactive),
    });
  }
  async revoke(shareId) {
    await run(this._c, 'shares.revoke', { share_id: checkString('shares.revoke', 'shareId', shareId) });
  }
}

class Quota {
  constructor(client) {
    this._c = client;
  }
  async usage() {
    return run(this._c, 'quota.usage', {});
  }
}

function delegationArgs(call, userJwt, app, options) {
  const o = optionsObject(call, options);
  return {
    user_jwt: checkString(call, 'userJwt', userJwt),
    app: checkString(call, 'app', app),
    job_id: checkString(call, 'jobId', o.jobId, { optional: true }),
    ttl_seconds: checkCount(call, 'ttlSeconds', o.ttlSeconds),
  };
}

/** The FluidCloud client. `FLUIDCLOUD_API_KEY` / `FLUIDCLOUD_BASE_URL` are the defaults. */
class FluidCloud {
  constructor(options) {
    const call = 'new FluidCloud';
    if (options instanceof NativeHolder) {
      this[NATIVE] = options.native;
    } else {
      const o = optionsObject(call, options);
      const config = {
        apiKey: checkString(call, 'apiKey', o.apiKey, { optional: true }) ?? undefined,
        baseUrl: checkString(call, 'baseUrl', o.baseUrl, { optional: true }) ?? undefined,
        apiVersion: checkString(call, 'apiVersion', o.apiVersion, { optional: true }) ?? undefined,
        maxRetries: checkCount(call, 'maxRetries', o.maxRetries, { max: U32_MAX }),
        concurrency: checkCount(call, 'concurrency', o.concurrency, { min: 1, max: U32_MAX }),
        allowInsecureHttp: checkBool(call, 'allowInsecureHttp', o.allowInsecureHttp),
      };
      if (o.timeout !== undefined && o.timeout !== null) {
        if (typeof o.timeout !== 'number' || !Number.isFinite(o.timeout) || o.timeout <= 0) {
          throw invalid(call, 'timeout must be a positive number of milliseconds');
        }
        config.timeoutMs = o.timeout;
      }
      const opened = native.openClient(config);
      if (typeof opened === 'string') unwrap(opened, call);
      this[NATIVE] = opened;
    }
    // Kept apart from the native half, which `close()` drops.
    this[BASE_URL] = this[NATIVE].baseUrl;
    this.spaces = new Spaces(this);
    this.folders = new Folders(this);
    this.files = new Files(this);
    this.shares = new Shares(this);
    this.quota = new Quota(this);
  }

  /** The API origin, e.g. 'https://api-cloud.fluidvip.com'. */
  get baseUrl() {
    return this[BASE_URL];
  }

  /** Trades this service key and an end user's JWT for a token acting as that user. */
  async exchangeServiceToken(userJwt, app, options) {
    const call = 'exchangeServiceToken';
    return run(this, call, delegationArgs(call, userJwt, app, options));
  }

  /** A client acting as the end user (same settings, shared connections). */
  async asUser(userJwt, app, options) {
    const call = 'asUser';
    const a = delegationArgs(call, userJwt, app, options);
    const opened = await nativeOf(this, call).asUser(a.user_jwt, a.app, a.job_id ?? undefined, a.ttl_seconds);
    if (typeof opened === 'string') unwrap(opened, call);
    return new FluidCloud(new NativeHolder(opened));
  }

  /**
   * Releases this client now: its idle connections close (once no client from `asUser` shares
   * them); calls in flight finish, and calls made afterwards fail with InvalidInputError.
   */
  close() {
    this[NATIVE]?.close();
    this[NATIVE] = null;
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `FluidCloud { baseUrl: ${JSON.stringify(this.baseUrl)} }`;
  }

  toJSON() {
    return { baseUrl: this.baseUrl };
  }
}

class NativeHolder {
  constructor(n) {
    this.native = n;
  }
}

module.exports = {
  FluidCloud,
  FluidCloudError,
  ApiError,
  AuthError,
  QuotaExceededError,
  PermissionError,
  NotFoundError,
  ConflictError,
  ConnectionError,
  TimeoutError,
  AbortError,
  InvalidInputError,
  FileSystemError,
  IntegrityError,
  // What TypeScript and bundlers expect of a CommonJS module typed with ES exports (index.d.ts):
  // `import FluidCloud from 'fluidcloud'` compiles to `require('fluidcloud').default`.
  default: FluidCloud,
};
Object.defineProperty(module.exports, '__esModule', { value: true });
