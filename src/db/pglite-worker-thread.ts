/**
 * Runs PGlite on a worker thread. The WebAssembly PostgreSQL executes every statement
 * synchronously on the thread that owns it; here that is this worker, so the services' HTTP work
 * on the main thread overlaps with query execution (two cores instead of one).
 *
 * Protocol: requests { id, kind, sql?, params?, tx? } and replies { id, result? , error? }.
 * A transaction is opened by `begin` (reply once it is live), used by passing its id as `tx`, and
 * ended by `commit` or `rollback`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { PgliteCopySource } from './pglite-copy-source.js';
import { prepareDataDir } from './pglite-template.js';
import { pgliteStartParams } from './pglite-settings.js';
import { chooseWasmTiering } from './wasm-tiering.js';
import { JSONB_TYPE_OID, jsonbColumns } from './jsonb-values.js';

interface Request {
  id: number;
  kind: 'query' | 'exec' | 'copy' | 'begin' | 'commit' | 'rollback' | 'close';
  sql?: string;
  params?: unknown[];
  /** COPY data (kind 'copy'; `sql` is then the COPY's `<table> (<columns>)`), given back with the reply. */
  data?: Uint8Array;
  tx?: number;
}

const port = parentPort!;
const { dataDir, heartbeat, tickMs } = workerData as { dataDir?: string; heartbeat?: Int32Array; tickMs?: number };
if (dataDir) prepareDataDir(dataDir);
chooseWasmTiering();
// jsonb leaves as text, parsed by the driver on the other side (jsonb-values.ts).
const startParams = pgliteStartParams();
const pg = new PGlite(dataDir, { parsers: { [JSONB_TYPE_OID]: (text: string) => text }, ...(startParams ? { startParams } : {}) });
let copySource: PgliteCopySource | undefined;

interface OpenTransaction {
  handle: Transaction;
  finish(commit: boolean): void;
  done: Promise<void>;
}
const transactions = new Map<number, OpenTransaction>();
const ROLLBACK = Symbol('rollback');

function reply(id: number, result: unknown): void {
  port.postMessage({ id, result });
}

/** COPY's reply gives its memory back to the driver's pool (copy-binary.ts). */
function replyCopied(id: number, result: number, memory: ArrayBuffer): void {
  port.postMessage({ id, result, memory }, [memory]);
}

function replyError(id: number, error: unknown): void {
  const e = error as Error & Record<string, unknown>;
  // Keep PostgreSQL's error fields (code, detail, ...) so callers can tell errors apart.
  const fields: Record<string, unknown> = {};
  for (const key of ['code', 'detail', 'hint', 'severity', 'constraint', 'table', 'column', 'schema', 'position']) if (e?.[key] !== undefined) fields[key] = e[key];
  port.postMessage({ id, error: { message: e?.message ?? String(error), ...fields } });
}

async function handle(request: Request): Promise<void> {
  const { id } = request;
  try {
    const target = request.tx !== undefined ? transactions.get(request.tx)?.handle : pg;
    if (!target) throw new Error(`transaction ${request.tx} is not open`);
    switch (request.kind) {
      case 'query': {
        const result = await target.query(request.sql!, request.params ?? []);
        return reply(id, { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length, jsonb: jsonbColumns(result.fields) });
      }
      case 'exec':
        await target.exec(request.sql!);
        return reply(id, null);
      case 'copy': {
        const data = request.data!;
        let rows = 0;
        try {
          copySource ??= PgliteCopySource.of(pg);
          rows = await copySource.copy(target, request.sql!, data);
        } catch (error) {
          // The memory goes back with the error too (the error reply carries no transfer).
          port.postMessage({ memory: data.buffer }, [data.buffer as ArrayBuffer]);
          throw error;
        }
        return replyCopied(id, rows, data.buffer as ArrayBuffer);
      }
      case 'begin': {
        let decide!: (commit: boolean) => void;
        const decided = new Promise<boolean>((resolve) => (decide = resolve));
        let live!: (tx: Transaction) => void;
        const started = new Promise<Transaction>((resolve) => (live = resolve));
        const done = pg
          .transaction(async (tx) => {
            live(tx);
            if (!(await decided)) throw ROLLBACK;
          })
          .then(
            () => undefined,
            (error: unknown) => {
              if (error !== ROLLBACK) throw error;
            },
          );
        done.catch(() => undefined); // observed by commit; never an unhandled rejection
        const handle = await Promise.race([
          started,
          done.then(() => {
            throw new Error('the transaction ended before it began');
          }),
        ]);
        transactions.set(id, { handle, finish: decide, done });
        return reply(id, null);
      }
      case 'commit':
      case 'rollback': {
        const open = transactions.get(request.tx!);
        if (!open) throw new Error(`transaction ${request.tx} is not open`);
        transactions.delete(request.tx!);
        open.finish(request.kind === 'commit');
        await open.done;
        return reply(id, null);
      }
      case 'close':
        await pg.close();
        reply(id, null);
        port.close();
        return;
    }
  } catch (error) {
    replyError(id, error);
  }
}

port.on('message', (request: Request) => void handle(request));
pg.waitReady.then(
  () => {
    // The statement budget's watchdog (pglite-worker-driver.ts): this tick stops while a statement
    // holds the thread in WebAssembly, which is how the driver sees it run past its budget.
    if (heartbeat && tickMs) setInterval(() => Atomics.add(heartbeat, 0, 1), tickMs).unref();
    port.postMessage({ ready: true });
  },
  (error: unknown) => port.postMessage({ ready: false, error: { message: (error as Error).message } }),
);
