/**
 * `instant backup [FILE]` and `instant restore FILE`: the instance's whole database (embedded or
 * PostgreSQL) to one file and back (src/platform/backup/). Progress lines go to stderr, so the
 * output stays the file's name.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InstantError } from '../common/errors.js';
import { stateStoreFor } from '../platform/deployment.js';
import { BACKUP_EXTENSIONS, backupDatabase, chooseBackupKind, restoreDatabase, type BackupFormat, type DatabaseLocationForBackup } from '../platform/backup/index.js';
import type { StateStore, TargetRecord } from '../platform/state-store.js';
import { chooseDatabaseUrl } from '../targets/embedded/database-location.js';
import { confirm } from './lifecycle-commands.js';
import { generateSecret } from '../platform/secrets.js';

const BACKUP_KEY = 'INSTANT_BACKUP_KEY';

const BACKUP_KEY_FILE = 'backup-key.json';

/**
 * The key that signs logical backups and checks them on restore: INSTANT_BACKUP_KEY from the
 * environment (to move data between instances, give both the same key), else the instance's own,
 * made at its first logical backup and kept in the state directory (backup-key.json, 0600). Not
 * in secrets.json: those become the services' settings, and no service needs this key.
 */
function backupKey(store: StateStore, create: boolean): string | undefined {
  const fromEnv = process.env[BACKUP_KEY];
  if (fromEnv) return fromEnv;
  if (!existsSync(store.dir)) return undefined;
  const kept = store.readJson<{ key?: unknown }>(BACKUP_KEY_FILE);
  if (typeof kept?.key === 'string') return kept.key;
  if (!create) return undefined;
  const key = generateSecret(43);
  store.writeJson(BACKUP_KEY_FILE, { key }, 0o600);
  return key;
}

interface BackupFlags {
  stateDir?: string;
  databaseUrl?: string;
}

function locate(flags: BackupFlags, command: 'backup' | 'restore'): { store: StateStore; location: DatabaseLocationForBackup } {
  const store = stateStoreFor(process.cwd(), flags.stateDir);
  const url = chooseDatabaseUrl(store, flags.databaseUrl ?? process.env.INSTANT_DATABASE_URL);
  if (!url) {
    const target = existsSync(store.dir) ? store.readState()?.target : undefined;
    if (target) throw containerDatabaseError(target, command);
  }
  return { store, location: url ? { url } : { dataDir: store.pgdataDir } };
}

/** A container target keeps PostgreSQL in its own container: this machine needs a way in. */
function containerDatabaseError(target: TargetRecord, command: 'backup' | 'restore'): InstantError {
  const reach: Record<TargetRecord['name'], string> = {
    compose: `publish it for the time of the ${command} (or run pg_dump inside it: \`${target.deployer === 'podman-compose' ? 'podman-compose' : 'docker compose'} -p ${target.project} exec postgres pg_dump -U instant -Fc instant > instant.pgdump\`)`,
    swarm: `run pg_dump inside its container (\`docker exec $(docker ps -q -f name=${target.project}_postgres) pg_dump -U instant -Fc instant > instant.pgdump\`) or publish its port`,
    kubernetes: target.deployer === 'podman-kube' ? `run pg_dump in its pod (\`podman exec ${target.project}-postgres-pod-0-postgres pg_dump -U instant -Fc instant > instant.pgdump\`)` : `forward its port: \`kubectl port-forward service/postgres 5432:5432\``,
  };
  return new InstantError(
    'INSTANT_BACKUP_NEEDS_DATABASE_URL',
    `the instance runs on the ${target.name} target (${target.deployer}, project ${target.project}) with its PostgreSQL in a container, which this machine does not reach by itself`,
    `give --database-url postgres://instant:PASSWORD@HOST:PORT/instant once the database is reachable: ${reach[target.name]}; PASSWORD is INSTANT_DATABASE_PASSWORD (the application role's) in ${join(target.artefactsDir, 'secrets')}. See "Backups" in docs/production.md`,
  );
}

const progress = (line: string): void => {
  process.stderr.write(`  ${line}\n`);
};

function failed(what: string, error: unknown): InstantError {
  return new InstantError('INSTANT_BACKUP_FAILED', `${what} failed: ${(error as Error).message}`, 'see the message above; nothing was changed in the database', { cause: error });
}

export async function backupCommand(file: string | undefined, flags: BackupFlags & { format?: string }): Promise<void> {
  const format = (flags.format ?? 'auto') as BackupFormat;
  if (!['auto', 'native', 'logical'].includes(format)) throw new InstantError('INSTANT_BACKUP_FORMAT', `--format ${format} is not one of auto, native, logical`);
  const { store, location } = locate(flags, 'backup');
  if ('dataDir' in location) {
    if (!existsSync(location.dataDir)) throw new InstantError('INSTANT_NO_INSTANCE', `no embedded database in ${location.dataDir}`, `looked for an instance in ${store.whereLooked()}; give --state-dir or --database-url`);
    // The embedded database is one process's: the running instance holds it.
    if (store.liveRuntime()) throw new InstantError('INSTANT_INSTANCE_RUNNING', `the instance in ${store.dir} is running and holds its embedded database`, 'stop it with `instant down`, back up, then `instant up`');
  }
  let chosen: Awaited<ReturnType<typeof chooseBackupKind>>;
  try {
    chosen = await chooseBackupKind(location, format);
  } catch (error) {
    throw failed('backup', error);
  }
  const target = resolve(file ?? `instant-backup-${new Date().toISOString().replace(/[:.]/g, '-')}.${BACKUP_EXTENSIONS[chosen.kind]}`);
  if (existsSync(target)) throw new InstantError('INSTANT_BACKUP_EXISTS', `${target} exists`, 'choose another file name; a backup never overwrites one');
  if (chosen.note) process.stderr.write(`${chosen.note}\n`);
  process.stderr.write(`Backing up ${'url' in location ? 'the PostgreSQL database' : 'the embedded database'} (${chosen.kind}) to ${target}\n`);
  try {
    await backupDatabase(location, target, chosen.kind, progress, chosen.kind === 'logical' ? backupKey(store, true) : undefined);
  } catch (error) {
    throw failed('backup', error);
  }
  process.stdout.write(`${target}\n`);
}

export async function restoreCommand(file: string, flags: BackupFlags & { yes?: boolean }): Promise<void> {
  const source = resolve(file);
  if (!existsSync(source)) throw new InstantError('INSTANT_BACKUP_MISSING', `${source} does not exist`);
  const { store, location } = locate(flags, 'restore');
  // A restore replaces the data under the services' feet: they must be stopped (every replica).
  if (store.liveRuntime()) throw new InstantError('INSTANT_INSTANCE_RUNNING', `the instance in ${store.dir} is running`, 'stop it with `instant down` (and every replica on a server), restore, then `instant up`');
  const where = 'url' in location ? 'the PostgreSQL database' : `the embedded database in ${location.dataDir}`;
  if (!flags.yes) await confirm(`Replace the data of ${where} with ${source}?`);
  process.stderr.write(`Restoring ${source} into ${where}\n`);
  try {
    const kind = await restoreDatabase(location, source, progress, backupKey(store, false));
    process.stdout.write(`Restored ${kind} backup ${source}. \`instant up\` starts the instance on it.\n`);
  } catch (error) {
    throw new InstantError('INSTANT_RESTORE_FAILED', `restore failed: ${(error as Error).message}`, 'the data is as it was before the restore (it runs in one transaction, or unpacks beside the old data)', { cause: error });
  }
}
