import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from './logger.js';

export interface HttpAppOptions {
  logger: Logger;
  /** Largest request body accepted, in bytes. */
  bodyLimit?: number;
  https?: Record<string, unknown>;
}

/**
 * A Fastify app with the platform's conventions: our pino logger (no per-request log lines on
 * the hot path), and GET /health for the platform's readiness checks.
 */
export function createHttpApp(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
    disableRequestLogging: true,
    bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024,
    ...(options.https ? { https: options.https } : {}),
  } as FastifyServerOptions) as unknown as FastifyInstance;
  app.get('/health', async () => ({ status: 'ok' }));
  return app;
}

/** Listens and returns the base URL actually bound (port 0 picks a free port). */
export async function listenOn(app: FastifyInstance, host: string, port: number, scheme = 'http'): Promise<string> {
  await app.listen({ host, port });
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `${scheme}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${boundPort}`;
}
