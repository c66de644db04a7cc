// ES module entry: the same classes as `require('fluidcloud')`.
import { createRequire } from 'node:module';

const cjs = createRequire(import.meta.url)('./index.js');

export const {
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
} = cjs;
export default FluidCloud;
