/**
 * instant backup / restore round trips on both drivers: every table (row count and content
 * checksum) is the same after a restore as when the backup was made, also when the data changed
 * in between (a restore replaces it), for each kind of backup file; and a logical backup of an
 * embedded instance restores onto a PostgreSQL server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openDatabase, type Database } from '../../src/db/open.js';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { interopLayerService } from '../../src/services/interop-layer/index.js';
import { createSharedHealthRecordEngine } from '../../src/services/shared-health-record/index.js';
import { createClientRegistryEngine } from '../../src/services/client-registry/index.js';
import { backupDatabase, chooseBackupKind, restoreDatabase, sniffBackup, type BackupKind, type DatabaseLocationForBackup } from '../../src/platform/backup/index.js';
import { freshPgliteDataDir, freshPostgresUrl, postgresAdminUrl, testDrivers } from '../support/databases.js';
import { tableChecksums } from '../support/table-checksums.js';
import { basic } from '../interop-layer/support.js';

const KEY = 'backup-test-key-0123456789';

type Location = DatabaseLocationForBackup;

const open = (location: Location): Promise<Database> =>
  openDatabase('url' in location ? { url: location.url } : { dataDir: location.dataDir, thread: 'main' });

/** Real data of three services: the interop layer (through its API), the SHR and the client registry. */
async function seed(location: Location, stateDir: string): Promise<void> {
  const db = await open(location);
  try {
    const password = randomBytes(9).toString('base64url');
    const running = await interopLayerService.start({
      name: 'interop-layer', db, logger: createLogger(), stateDir,
      settings: new SettingsMap({ OPENHIM_API_PORT: '0', OPENHIM_ROUTER_HTTP_PORT: '0', OPENHIM_ROUTER_HTTPS_PORT: '0', OPENHIM_ROOT_PASSWORD: password }),
    });
    const headers = { authorization: basic('root@openhim.org', password), 'content-type': 'application/json' };
    await fetch(`${running.endpoints.api}/clients`, { method: 'POST', headers, body: JSON.stringify({ clientID: 'pos', name: 'PoS', roles: [], password: 'pos-password' }) });
    await fetch(`${running.endpoints.api}/channels`, { method: 'POST', headers, body: JSON.stringify({ name: 'c', urlPattern: '^/x', allow: ['pos'], routes: [{ name: 'r', host: '127.0.0.1', port: 9, primary: true }] }) });
    for (let i = 0; i < 5; i++) await fetch(`${running.endpoints.router}/x/${i}`, { method: 'POST', headers: { authorization: basic('pos', 'pos-password') }, body: `body ${i} \u00e9\u0000` });
    await running.stop();
    const shr = await createSharedHealthRecordEngine({ db });
    for (let i = 0; i < 20; i++) await shr.repository().create({ resourceType: 'Patient', name: [{ family: `Backup${i}`, given: ['Ann'] }], birthDate: '1990-01-0' + ((i % 9) + 1) });
    await shr.settle();
    const cr = await createClientRegistryEngine({ db });
    for (let i = 0; i < 5; i++) await cr.repository().create({ resourceType: 'Patient', name: [{ family: 'Registry', given: [`P${i}`] }], gender: 'female', birthDate: '1980-02-02' });
    await cr.settle();
  } finally {
    await db.close();
  }
}

async function checksums(location: Location) {
  const db = await open(location);
  try {
    return await tableChecksums(db);
  } finally {
    await db.close();
  }
}

/** Changes after the backup, which a restore must undo. */
async function mutate(location: Location): Promise<void> {
  const db = await open(location);
  try {
    await db.query(`DELETE FROM iol.channels`);
    await db.query(`UPDATE shr.resources SET content = content || '{"active": true}'::jsonb WHERE id IN (SELECT id FROM shr.resources LIMIT 3)`);
  } finally {
    await db.close();
  }
}

for (const driver of testDrivers) {
  describe(`backup and restore on ${driver}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    let work: string;
    let location: Location;
    let original: Awaited<ReturnType<typeof checksums>>;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'instant-backup-test-'));
      cleanups.push(() => rm(work, { recursive: true, force: true }));
      const place = driver === 'pglite' ? await freshPgliteDataDir('pgdata') : await freshPostgresUrl();
      cleanups.push(() => place.dispose());
      location = 'dir' in place ? { dataDir: join(place.dir, 'pgdata') } : { url: place.url };
      await seed(location, work);
      original = await checksums(location);
    });
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    const kinds: Array<{ format: 'auto' | 'logical'; expected: BackupKind }> =
      driver === 'pglite' ? [{ format: 'auto', expected: 'pglite-archive' }, { format: 'logical', expected: 'logical' }] : [{ format: 'auto', expected: 'pg-dump' }, { format: 'logical', expected: 'logical' }];

    for (const { format, expected } of kinds) {
      test(`${expected}: every table is as it was at the backup after a restore over changed data`, async () => {
        assert.ok(Object.keys(original).length >= 20, 'the seed made the services\' tables');
        assert.ok(original['iol.transactions']!.rows >= 5 && original['shr.resources']!.rows >= 20 && original['cr.resources']!.rows >= 5);
        const { kind } = await chooseBackupKind(location, format);
        assert.equal(kind, expected);
        const file = join(work, `backup-${expected}`);
        const lines: string[] = [];
        await backupDatabase(location, file, kind, (line) => lines.push(line), KEY);
        assert.ok(lines.length > 0, 'progress was reported');
        assert.equal(await sniffBackup(file), expected);
        await mutate(location);
        assert.notDeepEqual(await checksums(location), original);
        await restoreDatabase(location, file, () => undefined, KEY);
        assert.deepEqual(await checksums(location), original);
      });
    }

    test('a restored instance starts and works (its triggers, sequences and keys are back)', async () => {
      const db = await open(location);
      try {
        const password = randomBytes(9).toString('base64url');
        const running = await interopLayerService.start({
          name: 'interop-layer', db, logger: createLogger(), stateDir: work,
          settings: new SettingsMap({ OPENHIM_API_PORT: '0', OPENHIM_ROUTER_HTTP_PORT: '0', OPENHIM_ROUTER_HTTPS_PORT: '0', OPENHIM_ROOT_PASSWORD: password }),
        });
        try {
          const list = await fetch(`${running.endpoints.router}/x/again`, { method: 'POST', headers: { authorization: basic('pos', 'pos-password') }, body: 'x' });
          assert.notEqual(list.status, 401, 'the restored client authenticates');
        } finally {
          await running.stop();
        }
        const cr = await createClientRegistryEngine({ db });
        await cr.repository().create({ resourceType: 'Patient', name: [{ family: 'After', given: ['Restore'] }], gender: 'male', birthDate: '1970-01-01' });
        await cr.settle();
      } finally {
        await db.close();
      }
    });

    if (driver === 'pglite' && postgresAdminUrl) {
      test('a logical backup of an embedded instance restores onto a PostgreSQL server', async () => {
        const file = join(work, 'to-server');
        await backupDatabase(location, file, 'logical', () => undefined, KEY);
        const before = await checksums(location);
        const server = await freshPostgresUrl();
        cleanups.push(() => server.dispose());
        await restoreDatabase({ url: server.url }, file, () => undefined, KEY);
        assert.deepEqual(await checksums({ url: server.url }), before);
      });
    }

    test('a file that is not a backup, or is cut short, is refused and changes nothing', async () => {
      const { writeFile, readFile } = await import('node:fs/promises');
      const junk = join(work, 'junk');
      await writeFile(junk, 'not a backup');
      await assert.rejects(restoreDatabase(location, junk, () => undefined, KEY), /not a backup made by instant backup/);
      const file = join(work, 'cut');
      await backupDatabase(location, file, 'logical', () => undefined, KEY);
      const whole = await readFile(file);
      const { gunzipSync, gzipSync } = await import('node:zlib');
      const text = gunzipSync(whole).toString('utf8');
      await writeFile(file, gzipSync(Buffer.from(text.slice(0, Math.floor(text.length * 0.6)))));
      const before = await checksums(location);
      await assert.rejects(restoreDatabase(location, file, () => undefined, KEY), /cut short|Unexpected|JSON/);
      assert.deepEqual(await checksums(location), before);
      // An instance that never made a logical backup has no key: the error says which key to give.
      await assert.rejects(restoreDatabase(location, file, () => undefined, undefined),
        /has no backup key.*give the key of the instance that made the file: INSTANT_BACKUP_KEY=.*backup-key\.json/s);
      await assert.rejects(restoreDatabase(location, file, () => undefined, 'short'), /INSTANT_BACKUP_KEY is 5 characters: a backup key has 16 or more/);
    });
  });
}
