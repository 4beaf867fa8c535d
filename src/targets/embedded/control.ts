import { createServer, request, type Server } from 'node:http';
import { rmSync } from 'node:fs';
import { InstantError } from '../../common/errors.js';

/**
 * The running embedded instance answers on a Unix socket in its state directory (mode of the
 * directory, 0700): `instant down`, `destroy` and `status` use it to reach the one process
 * that holds the embedded database.
 */
export interface ControlHandlers {
  status(): Promise<unknown>;
  start(body: never): Promise<unknown>;
  stop(body: { packages?: string[]; destroy?: boolean }): Promise<unknown>;
}

export function startControlServer(socketPath: string, handlers: ControlHandlers): Promise<Server> {
  rmSync(socketPath, { force: true });
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const reply = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const run = async () => {
        if (req.method === 'GET' && req.url === '/status') return reply(200, await handlers.status());
        if (req.method === 'POST' && req.url === '/stop') return reply(200, await handlers.stop(body ? JSON.parse(body) : {}));
        if (req.method === 'POST' && req.url === '/start') return reply(200, await handlers.start(JSON.parse(body) as never));
        return reply(404, { error: 'unknown control request' });
      };
      // Errors travel back whole, so the CLI shows the same message and hint as in-process.
      run().catch((error: Error & { code?: string; hint?: string }) => reply(500, { error: error.message, code: error.code, hint: error.hint }));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve(server));
  });
}

export function callControl<T>(socketPath: string, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { 'content-type': 'application/json' }, timeout: timeoutMs }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => {
        const value = text ? JSON.parse(text) : undefined;
        if ((res.statusCode ?? 500) >= 400) {
          const failure = value as { error?: string; code?: string; hint?: string } | undefined;
          reject(new InstantError(failure?.code ?? 'INSTANT_CONTROL_FAILED', failure?.error ?? `control request failed (${res.statusCode})`, failure?.hint));
        }
        else resolve(value as T);
      });
    });
    req.on('timeout', () => req.destroy(new Error('the running instance did not answer in time')));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
