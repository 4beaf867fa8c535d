/**
 * The console's one HTTP client. Every call goes to this origin: /console/session for the login,
 * /api/... for the OpenHIM admin API (passed on by the console server with the session's
 * credentials). State-changing calls carry the session's CSRF token.
 */

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly code?: string) {
    super(message);
  }
}

let csrfToken = '';

/**
 * A call made while nobody has touched the page for a while is background polling: it is marked
 * (X-Console-Background) so it does not keep an unattended console's session alive.
 */
const BACKGROUND_AFTER_MS = 60_000;
let lastInputAt = Date.now();
if (typeof window !== 'undefined') {
  for (const event of ['pointerdown', 'keydown', 'wheel', 'touchstart']) {
    window.addEventListener(event, () => { lastInputAt = Date.now(); }, { capture: true, passive: true });
  }
}
let onUnauthenticated: () => void = () => undefined;

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

export function whenUnauthenticated(handler: () => void): void {
  onUnauthenticated = handler;
}

async function readError(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { message?: string; error?: string };
    return new ApiError(response.status, body.message ?? body.error ?? text, body.error);
  } catch {
    return new ApiError(response.status, text || response.statusText);
  }
}

export async function request<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrfToken;
  if (Date.now() - lastInputAt > BACKGROUND_AFTER_MS) headers['x-console-background'] = '1';
  const response = await fetch(url, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401 && url.startsWith('/api/')) onUnauthenticated();
  if (!response.ok) throw await readError(response);
  const text = await response.text();
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    return text as T;
  }
}

/** The admin API, by its OpenHIM paths. */
export const api = {
  get: <T>(path: string) => request<T>('GET', `/api${path}`),
  post: <T>(path: string, body?: unknown) => request<T>('POST', `/api${path}`, body ?? {}),
  put: <T>(path: string, body: unknown) => request<T>('PUT', `/api${path}`, body),
  del: <T>(path: string) => request<T>('DELETE', `/api${path}`),
};

export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.status === 429 ? `${error.message} (too many attempts)` : error.message;
  return error instanceof Error ? error.message : String(error);
}
