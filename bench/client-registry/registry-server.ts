/**
 * One registry process of the bench: the client registry's engine on the bench schema, its FHIR
 * API over HTTP (no router), every statement and transaction it runs counted, and its CPU time.
 * The bench runs one in its own process and, with `--replicas N`, N-1 more as child processes on
 * the same PostgreSQL database (this file run as a script), as replicas of the service would run;
 * a child prints `READY <fhir base>` and answers GET/POST /bench/counters (read / reset).
 *
 *   node dist/bench/client-registry/registry-server.js --database-url URL [--max-candidates 32]
 */
import { pathToFileURL } from 'node:url';
import { createHttpApp, listenOn } from '../../src/common/http-app.js';
import { DEFAULT_LIMITS } from '../../src/common/limits.js';
import { createLogger } from '../../src/common/logger.js';
import type { Database, Queryable } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { registerFhirRoutes } from '../../src/fhir/http/fastify.js';
import { createClientRegistryEngine } from '../../src/services/client-registry/index.js';
import type { ClientRegistryEngine } from '../../src/services/client-registry/registry-engine.js';

export const BENCH_SCHEMA = 'cr_bench';

export interface Counters {
  statements: number;
  transactions: number;
  /** Time spent waiting for the database (round trips), ms. */
  dbMs: number;
  /** This process's CPU time (user + system), ms. */
  cpuMs: number;
  /** The system (kernel) part of it, ms. */
  sysMs: number;
}

/** The database with every statement and transaction run through it counted and timed. */
export function countStatements(db: Database): { db: Database; read(): Counters; reset(): void } {
  const counts = { statements: 0, transactions: 0, dbMs: 0 };
  let cpuAtReset = process.cpuUsage();
  const timed = (target: Queryable) => async (sql: string, params?: unknown[]) => {
    counts.statements++;
    const at = performance.now();
    try {
      return await target.query(sql, params);
    } finally {
      counts.dbMs += performance.now() - at;
    }
  };
  const wrap = <T extends Queryable>(target: T, extra: Record<string | symbol, unknown> = {}): T => new Proxy(target, {
    get(object, property) {
      if (property === 'query') return timed(object);
      if (property in extra) return extra[property];
      const value = Reflect.get(object, property, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
  const transaction: Database['transaction'] = (fn, options) => {
    counts.transactions++;
    return db.transaction((tx) => fn(wrap(tx)), options);
  };
  return {
    db: wrap(db, { transaction }),
    read: () => {
      const cpu = process.cpuUsage(cpuAtReset);
      return { ...counts, cpuMs: (cpu.user + cpu.system) / 1000, sysMs: cpu.system / 1000 };
    },
    reset: () => {
      Object.assign(counts, { statements: 0, transactions: 0, dbMs: 0 });
      cpuAtReset = process.cpuUsage();
    },
  };
}

export interface BenchRegistry {
  engine: ClientRegistryEngine;
  /** The FHIR base URL. */
  base: string;
  counters: ReturnType<typeof countStatements>;
  close(): Promise<void>;
}

/** The registry on `db` (schema cr_bench), listening on a free loopback port (the domains version tells it of other processes' domain writes). */
export async function serveRegistry(db: Database, maxCandidates: number, routes?: (app: ReturnType<typeof createHttpApp>) => void): Promise<BenchRegistry> {
  const counters = countStatements(db);
  const engine = await createClientRegistryEngine({ db: counters.db }, { schema: BENCH_SCHEMA, limits: { ...DEFAULT_LIMITS, crMaxCandidates: maxCandidates } });
  const app = createHttpApp({ logger: createLogger({ level: 'warn' }), name: 'cr-bench' });
  await registerFhirRoutes(app, engine, { prefix: '/clientregistry/fhir' });
  routes?.(app);
  const base = `${await listenOn(app, '127.0.0.1', 0)}/clientregistry/fhir`;
  engine.setBaseUrl(base);
  return {
    engine,
    base,
    counters,
    async close() {
      await app.close();
      await engine.settle();
    },
  };
}

/** Child mode: one more registry process on the database named by --database-url. */
async function runChild(): Promise<void> {
  const argv = process.argv.slice(2);
  const arg = (name: string): string | undefined => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const url = arg('--database-url');
  if (!url) throw new Error('--database-url is required');
  const db = await openDatabase({ url });
  let registry: BenchRegistry | undefined;
  registry = await serveRegistry(db, Number(arg('--max-candidates') ?? DEFAULT_LIMITS.crMaxCandidates), (app) => {
    app.get('/bench/counters', async () => registry!.counters.read());
    app.post('/bench/counters', async () => {
      registry!.counters.reset();
      return {};
    });
  });
  const stop = async (): Promise<void> => {
    await registry!.close();
    await db.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.stdin.on('end', () => void stop()); // the bench went away
  process.stdin.resume();
  console.log(`READY ${registry.base}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runChild();
