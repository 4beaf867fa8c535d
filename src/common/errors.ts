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
