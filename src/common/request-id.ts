/** Request ids: one per answer on every port, so a trace crosses the router and the services behind it. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A caller's X-Request-Id is kept when it looks like one (so a trace crosses services); else a new one. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** For an answer made before any request was parsed (Node's parser refused the bytes). */
export const newRequestId = randomUUID;
