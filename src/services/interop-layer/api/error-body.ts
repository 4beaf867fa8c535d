/**
 * Error answers as OpenHIM gives them: its API answers an error with the message alone, as plain
 * text (utils.logAndSetResponse; OpenHIM's own tests compare `res.text`), and that is what a caller
 * gets that does not ask for JSON (no Accept, `*\/*`, or Angular's `application/json, text/plain,
 * *\/*`). A caller whose Accept puts `application/json` above `text/plain` (this project's console,
 * CLI and mediator SDK send `application/json`) gets `{error: code, message, hint}`, the
 * machine-readable shape. Routes whose OpenHIM errors are JSON (`/apps`: `{error}`) keep theirs.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { weightedItems } from '../../../common/weighted-header.js';

/** Whether the caller ranks application/json above text/plain (media ranges included). */
export function wantsJsonErrors(accept: string | string[] | undefined): boolean {
  let json = 0;
  let text = 0;
  for (const item of weightedItems(accept)) {
    const type = item.name.toLowerCase();
    if (type === 'application/json') json = Math.max(json, item.q);
    else if (type === 'text/plain' || type === 'text/*') text = Math.max(text, item.q);
  }
  return json > 0 && json > text;
}

/** Turns the API's JSON error bodies into OpenHIM's text for callers that did not ask for JSON. */
export function installOpenhimErrorBodies(app: FastifyInstance): void {
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (reply.statusCode < 400 || typeof payload !== 'string' || request.routeOptions.config?.openhimErrorBody) return payload;
    if (!String(reply.getHeader('content-type') ?? '').startsWith('application/json') || wantsJsonErrors(request.headers.accept)) return payload;
    let message: unknown;
    try {
      message = (JSON.parse(payload) as { message?: unknown }).message;
    } catch {
      return payload;
    }
    if (typeof message !== 'string') return payload;
    reply.header('content-type', 'text/plain; charset=utf-8');
    return message;
  });
}
