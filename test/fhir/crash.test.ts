/** kill -9 under write load: every write the server acknowledged is there after a restart. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { openDatabase } from '../../src/db/open.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { freshPgliteDataDir, freshPostgresUrl, testDrivers } from '../support/databases.js';

const child = fileURLToPath(new URL('./crash-server.js', import.meta.url));

for (const driver of testDrivers) {
  describe(`FHIR durability under kill -9 (${driver})`, () => {
    test('acknowledged creates and updates survive a kill -9 in the middle of a write load', async () => {
      const storage = driver === 'pglite' ? await freshPgliteDataDir() : await freshPostgresUrl();
      const location = 'dir' in storage ? { dataDir: storage.dir } : { url: storage.url };
      const server = spawn(process.execPath, [child, JSON.stringify(location)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = once(server, 'exit'); // registered now: the exit may come before we wait for it
      try {
        const [line] = (await once(server.stdout!, 'data')) as [Buffer];
        const base = line.toString().trim();
        const acknowledged = new Map<string, string>();
        let stop = false;
        const writer = async (n: number): Promise<void> => {
          let lastId: string | undefined;
          for (let i = 0; !stop; i++) {
            try {
              const update = lastId !== undefined && i % 3 === 0;
              const response = await fetch(update ? `${base}/Patient/${lastId}` : `${base}/Patient`, {
                method: update ? 'PUT' : 'POST',
                headers: { 'content-type': 'application/fhir+json' },
                body: JSON.stringify({ resourceType: 'Patient', ...(update ? { id: lastId } : {}), name: [{ family: `Writer${n}`, given: [`n${i}`] }] }),
              });
              if (response.status === 200 || response.status === 201) {
                const body = (await response.json()) as { id: string; meta: { versionId: string } };
                acknowledged.set(body.id, body.meta.versionId);
                lastId = body.id;
              }
            } catch {
              return; // the server is gone
            }
          }
        };
        const writers = [1, 2, 3, 4].map(writer);
        while (acknowledged.size < 60) await new Promise((r) => setTimeout(r, 20));
        server.kill('SIGKILL');
        stop = true;
        await Promise.all(writers);
        await exited;

        const db = await openDatabase(location);
        try {
          const engine = new FhirEngine({ db, schema: 'fhir_crash' });
          await engine.migrate();
          const repo = engine.repository();
          for (const [id, version] of acknowledged) {
            const stored = await repo.read('Patient', id);
            assert.ok(Number(stored.meta!.versionId) >= Number(version), `Patient/${id} lost version ${version}`);
          }
          assert.ok(acknowledged.size >= 60);
        } finally {
          await db.close();
        }
      } finally {
        if (server.exitCode === null) server.kill('SIGKILL');
        await storage.dispose();
      }
    });
  });
}
