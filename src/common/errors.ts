/**
 * The platform's one error type. Every error has a stable code (documented in
 * docs/errors.md), a message that says what went wrong, and a hint that says what to do.
 */
export class InstantError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'InstantError';
  }

  /** The text shown to a user: message, then what to do. */
  describe(): string {
    return this.hint ? `${this.message}\n  → ${this.hint}` : this.message;
  }
}

export function isInstantError(error: unknown): error is InstantError {
  return error instanceof InstantError;
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

const STORAGE_CODES = new Set(['INSTANT_DISK_FULL', 'INSTANT_STATE_DIR_READ_ONLY', 'INSTANT_STATE_DIR_PERMISSION', 'INSTANT_STATE_DIR_INVALID']);

/**
 * A file-system failure of the state directory (or of the embedded database in it) as the
 * InstantError an operator can act on: a full disk, a read-only mount, wrong permissions, or a
 * path that is not a directory. Looks through `cause` chains and recognises PostgreSQL's (and so
 * PGlite's) disk-full error; anything else gives undefined.
 */
export function storageFailure(error: unknown, path: string): InstantError | undefined {
  // Already explained: keep the first explanation. Other InstantErrors are searched (their
  // message and cause), so "service X failed to start" over a full disk is a full disk.
  if (error instanceof InstantError && STORAGE_CODES.has(error.code)) return error;
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = String((e as { code?: unknown }).code ?? '');
    const message = e instanceof Error ? e.message : String(e);
    const where = (e as { path?: string }).path ?? path;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === '53100' || /no space left on device|disk quota exceeded/i.test(message)) {
      return new InstantError('INSTANT_DISK_FULL', `the disk holding ${path} is full (${message})`, 'free space on that disk, then run the command again: the data written before is kept', { cause: error });
    }
    if (code === 'EROFS' || /read-only file system/i.test(message)) {
      return new InstantError('INSTANT_STATE_DIR_READ_ONLY', `${where} is on a read-only file system (${message})`, 'remount it read-write, or give a writable --state-dir (or INSTANT_STATE_DIR)', { cause: error });
    }
    if (code === 'EACCES' || code === 'EPERM' || /permission denied|operation not permitted/i.test(message)) {
      return new InstantError('INSTANT_STATE_DIR_PERMISSION', `no permission to use ${where} (${message})`, 'run instant as the user who owns the state directory, or give that user read and write access to it (chown -R / chmod u+rwX)', { cause: error });
    }
    if (code === 'ENOTDIR' || code === 'EISDIR' || (code === 'EEXIST' && (e as { syscall?: string }).syscall === 'mkdir')) {
      return new InstantError('INSTANT_STATE_DIR_INVALID', `${where} cannot be used as the state directory (${message})`, 'a file stands where a directory is expected (or the reverse): give another --state-dir, or move that file away', { cause: error });
    }
  }
  return undefined;
}

/** Runs a file operation on the state directory, turning file-system failures into InstantErrors. */
export function onStorage<T>(path: string, operation: () => T): T {
  try {
    return operation();
  } catch (error) {
    throw storageFailure(error, path) ?? error;
  }
}
