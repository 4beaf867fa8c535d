import type { IncomingHttpHeaders } from 'node:http';

/** Headers that describe one connection, never copied between client and upstream. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'host',
]);

export function forwardableHeaders(headers: IncomingHttpHeaders, drop: readonly string[] = []): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || drop.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

/** A body as stored in the log: text, cut at the cap and marked when cut. */
export function storedBody(body: Buffer | string | undefined, store: boolean, cap: number): { body?: string; bodyTruncated?: boolean } {
  if (!store || body === undefined) return {};
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  if (buf.length === 0) return { body: '' };
  if (buf.length <= cap) return { body: buf.toString('utf8') };
  return { body: buf.subarray(0, cap).toString('utf8'), bodyTruncated: true };
}

/** Status pattern like `2**` or `200,201` (OpenHIM's statusCodesCheck). */
export function statusMatches(pattern: string, status: number): boolean {
  const code = String(status);
  return pattern.split(',').some((p) => p.trim().length === 3 && [...p.trim()].every((ch, i) => ch === '*' || ch === code[i]));
}

/** Headers as stored in the log: credentials masked (a rerun re-authenticates nothing). */
export function loggableHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  const out = { ...headers };
  for (const name of ['authorization', 'proxy-authorization', 'cookie', 'auth-token']) if (out[name] !== undefined) out[name] = '***';
  return out;
}

/** Headers a mediator asked for, without those that describe the connection, as strings. */
export function mediatorHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || value === undefined || value === null) continue;
    out[lower] = String(value);
  }
  return out;
}
