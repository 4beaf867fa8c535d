/**
 * What one transaction row costs the embedded database, by the document column's type: COPY of
 * 20,000 rows shaped like the IOL's (the same columns and five indexes, a ~1 KB document, 300
 * bytes of bodies), in batches of 300, PGlite on the main thread so the process's CPU is the
 * database's plus the COPY encoding. Prints µs of CPU per row for jsonb (what the table held
 * before 2026-12-01) and json (what it holds), alternating, and their ratio.
 *   npm run build && node dist/bench/iol/transaction-row-cost.js      # ROWS=20000 ROUNDS=2
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CopyBinaryWriter } from '../../src/db/copy-binary.js';
import { openDatabase } from '../../src/db/open.js';

const ROWS = Number(process.env.ROWS ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const BATCH = 300;
const COLUMNS = 'id, channel_id, client_id, status, request_ts, request_path, response_status, parent_id, replica_id, doc, bodies';

function documentOf(i: number): string {
  const at = new Date().toISOString();
  return JSON.stringify({
    _id: `tx${String(i).padStart(22, '0')}`, clientID: '6750d5c1a2b3c4d5e6f70809', channelID: '6750d5c1a2b3c4d5e6f7080a', clientIP: '127.0.0.1',
    request: { host: '127.0.0.1', port: '5001', path: '/bench', querystring: '', method: 'POST', timestamp: at,
      headers: { host: '127.0.0.1:5001', 'content-type': 'application/json', 'content-length': '1010', authorization: '***', 'user-agent': 'autocannon', 'x-request-id': '0d1c7b0e-3f7c-4c4b-9a43-1f0c2d7e5a11' } },
    response: { status: 200, timestamp: at, headers: { 'content-type': 'application/json', date: new Date().toUTCString(), 'content-length': '1010' } },
    routes: [], orchestrations: [], properties: {}, canRerun: true, autoRetry: false, wasRerun: false, status: 'Successful',
  });
}

async function microsPerRow(docType: 'jsonb' | 'json'): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'tx-row-cost-'));
  const db = await openDatabase({ dataDir: join(dir, 'pgdata'), thread: 'main' });
  try {
    await db.query(`CREATE TABLE t (id text PRIMARY KEY, channel_id text, client_id text, status text NOT NULL, request_ts timestamptz NOT NULL,
      request_path text NOT NULL, response_status integer, parent_id text, replica_id text, doc ${docType} NOT NULL, bodies bytea)`);
    for (const index of ['(request_ts DESC)', '(channel_id, request_ts DESC)', '(status)', '(client_id, request_ts DESC)']) await db.query(`CREATE INDEX ON t ${index}`);
    await db.query(`CREATE INDEX ON t (replica_id) WHERE status = 'Processing'`);
    const bodies = Buffer.alloc(300, 7);
    const started = process.cpuUsage();
    for (let first = 0; first < ROWS; first += BATCH) {
      const out = new CopyBinaryWriter(BATCH * 2048);
      for (let i = first; i < first + BATCH; i++) {
        const doc = documentOf(i);
        out.row(11).text(`tx${i}`).text('6750d5c1a2b3c4d5e6f7080a').text('6750d5c1a2b3c4d5e6f70809').text('Successful').timestamptz(Date.now()).text('/bench').int4(200).text(null).text(null);
        if (docType === 'jsonb') out.jsonb(doc);
        else out.text(doc);
        out.bytea(bodies);
      }
      await db.copyFrom!(`t (${COLUMNS})`, out.finish());
    }
    const used = process.cpuUsage(started);
    return (used.user + used.system) / ROWS;
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const best: Record<string, number> = { jsonb: Infinity, json: Infinity };
for (let round = 0; round < ROUNDS; round++) {
  for (const type of round % 2 === 0 ? (['jsonb', 'json'] as const) : (['json', 'jsonb'] as const)) {
    const us = await microsPerRow(type);
    best[type] = Math.min(best[type]!, us);
    console.log(`round ${round + 1}: doc ${type.padEnd(5)} ${us.toFixed(1)} µs of CPU per row`);
  }
}
console.log(`best: jsonb ${best.jsonb!.toFixed(1)} µs, json ${best.json!.toFixed(1)} µs per row; json / jsonb ${(best.json! / best.jsonb!).toFixed(2)}`);
