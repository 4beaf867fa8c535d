import { InstantError } from '../../common/errors.js';

/**
 * The interop layer's error: a stable code (IOL_...), an HTTP status, and a message that says
 * what to do. Handlers throw it; the API and router turn it into a response in one place.
 */
export class IolError extends InstantError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    hint?: string,
  ) {
    super(code, message, hint);
    this.name = 'IolError';
  }
}

export const badRequest = (message: string, hint?: string) => new IolError(400, 'IOL_BAD_REQUEST', message, hint);
export const notFound = (what: string) => new IolError(404, 'IOL_NOT_FOUND', `${what} was not found`);
/** A 404 in OpenHIM's own words (its API's message for that item, which its clients and tests read). */
export const missing = (message: string) => new IolError(404, 'IOL_NOT_FOUND', message);
export const conflict = (message: string) => new IolError(409, 'IOL_CONFLICT', message);
export const forbidden = (message = 'this user may not do that; ask an admin') =>
  new IolError(403, 'IOL_FORBIDDEN', message);
