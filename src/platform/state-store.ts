import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InstantError, onStorage, storageFailure } from '../common/errors.js';
import { describeSearch, type StateLocation } from './state-location.js';

/**
 * The state directory of one Instant instance (default ./.instant):
 *   state.json    which packages were initialised, and on which database
 *   secrets.json  generated secrets, mode 0600
 *   pgdata/       the embedded database
 *   logs/         JSON-lines logs of the services
 *   runtime.json  the running process: pid, packages, endpoints (absent when stopped)
 */
export interface InstanceState {
  version: 1;
  /** dir is kept for custom packages, so later commands find them without -c. */
  packages: Record<string, { version: string; initializedAt: string; dir?: string }>;
  database: { kind: 'pglite' } | { kind: 'postgres' };
  /** Settings given at init (profile, env files, -e), applied again by later commands. */
  settings?: RememberedSettings;
  /** Deployed on a container target (absent: the embedded target). */
  target?: TargetRecord;
}

/** Where a container target put the instance, for down, destroy, status, logs and test. */
export interface TargetRecord {
  name: 'compose' | 'swarm' | 'kubernetes';
  /** The folder of the rendered files (compose.yaml, kubernetes.yaml, secrets/). */
  artefactsDir: string;
  /** The program that deployed them: docker-compose, podman-compose, docker-stack, kubectl, podman-kube. */
  deployer: string;
  project: string;
  /** Entry points reachable from this machine (service → endpoint → URL). */
  endpoints: Record<string, Record<string, string>>;
  /** What init was given, for `up` to render the same: the images, and whether PostgreSQL is external. */
  image?: string;
  postgresImage?: string;
  externalDatabase?: boolean;
}

export interface RememberedSettings {
  profile?: string;
  envFiles: string[];
  assignments: string[];
}

export interface RuntimeInfo {
  pid: number;
  startedAt: string;
  detached: boolean;
  packages: string[];
  /** service name → endpoint name → URL */
  endpoints: Record<string, Record<string, string>>;
  /** service name → its readiness URL */
  healthUrls?: Record<string, string>;
  controlSocket: string;
  /** Certificates (PEM, public) of the instance's own HTTPS endpoints, for the CLI's clients. */
  trustedCertificates?: string[];
}

export class StateStore {
  /** How the directory was found (walking up from the current folder, a flag, the environment). */
  readonly location: StateLocation;

  constructor(
    readonly dir: string,
    location?: StateLocation,
  ) {
    this.location = location ?? { dir, how: 'flag', from: dir };
  }

  /** Where this command looked for an instance, for the message of one that found none. */
  whereLooked(): string {
    return describeSearch(this.location);
  }

  get pgdataDir(): string {
    return join(this.dir, 'pgdata');
  }
  get logsDir(): string {
    return join(this.dir, 'logs');
  }
  get logFile(): string {
    return join(this.logsDir, 'instant.log');
  }
  get secretsFile(): string {
    return join(this.dir, 'secrets.json');
  }
  get controlSocket(): string {
    return join(this.dir, 'control.sock');
  }

  ensure(): void {
    try {
      onStorage(this.dir, () => {
        mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        mkdirSync(this.logsDir, { recursive: true });
      });
    } catch (error) {
      // A recursive mkdir on a read-only mount says ENOENT: ask the nearest existing folder why.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      let existing = dirname(this.dir);
      while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
      throw storageProblem(existing) ?? error;
    }
  }

  readState(): InstanceState | undefined {
    const state = this.readJson<InstanceState>('state.json');
    if (state !== undefined && !isStateShape(state)) throw this.corrupt('state.json', 'it is not an object with "packages" and "database"');
    return state;
  }

  writeState(state: InstanceState): void {
    // 0600: remembered -e values may hold a password someone chose to pass.
    this.writeJson('state.json', state, 0o600);
  }

  /** Never repaired or replaced here: a corrupt secrets file stops the command (see corrupt()). */
  readSecrets(): Record<string, string> {
    const secrets = this.readJson<Record<string, string>>('secrets.json');
    if (secrets === undefined) return {};
    const wrong = isPlainObject(secrets) ? Object.entries(secrets).find(([, value]) => typeof value !== 'string') : ['', undefined];
    if (wrong) throw this.corrupt('secrets.json', wrong[0] ? `the value of ${wrong[0]} is not a string` : 'it is not an object of "NAME": "value" pairs');
    return secrets;
  }

  writeSecrets(secrets: Record<string, string>): void {
    this.writeJson('secrets.json', secrets, 0o600);
  }

  readRuntime(): RuntimeInfo | undefined {
    const runtime = this.readJson<RuntimeInfo>('runtime.json');
    if (runtime !== undefined && !(isPlainObject(runtime) && Number.isInteger(runtime.pid))) throw this.corrupt('runtime.json', 'it does not name a process id');
    return runtime;
  }

  writeRuntime(runtime: RuntimeInfo): void {
    this.writeJson('runtime.json', runtime);
  }

  clearRuntime(): void {
    onStorage(this.dir, () => rmSync(join(this.dir, 'runtime.json'), { force: true }));
  }

  /** The running process, if runtime.json names one that is still alive. */
  liveRuntime(): RuntimeInfo | undefined {
    const runtime = this.readRuntime();
    if (!runtime) return undefined;
    if (isAlive(runtime.pid)) return runtime;
    this.clearRuntime();
    return undefined;
  }

  /** Deletes everything: data, secrets, logs. */
  removeAll(): void {
    onStorage(this.dir, () => rmSync(this.dir, { recursive: true, force: true }));
  }

  /** A JSON file of the state directory; undefined when absent. */
  readJson<T>(name: string): T | undefined {
    const file = join(this.dir, name);
    const text = onStorage(file, () => (existsSync(file) ? readFileSync(file, 'utf8') : undefined));
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw this.corrupt(name, jsonSyntaxError(text, error as Error));
    }
  }

  /** Written to a temporary file and renamed, so a crash (or a full disk) never leaves half a file. */
  writeJson(name: string, value: unknown, mode = 0o644): void {
    this.ensure();
    const file = join(this.dir, name);
    const temp = `${file}.${process.pid}.tmp`;
    onStorage(file, () => {
      try {
        writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`, { mode });
        chmodSync(temp, mode);
        renameSync(temp, file);
      } catch (error) {
        rmSync(temp, { force: true });
        throw error;
      }
    });
  }

  /** What to do about a damaged state file depends on what it holds: never lose the secrets. */
  private corrupt(name: string, reason: string): InstantError {
    const file = join(this.dir, name);
    const hints: Record<string, string> = {
      'secrets.json':
        'do NOT delete it: it holds the generated secrets (the root and admin passwords among them) and the data was set up with them. ' +
        'Repair it by hand (a JSON object of "NAME": "value" pairs, one per secret; the position above shows where it breaks) or restore it from a backup. ' +
        'instant never rewrites it while it is damaged, and `instant config --get` cannot read it until it is repaired',
      'state.json':
        'repair it by hand (JSON: {"version": 1, "packages": {...}, "database": {"kind": "pglite"}}) or restore it from a backup; ' +
        'the data in pgdata/ and secrets.json are not affected. Do not run `instant destroy`: it deletes the data',
      'runtime.json':
        'it only records the running process: if no instant process runs from this directory (`ps`), delete runtime.json and run the command again',
      'database.json':
        'it holds the PostgreSQL URL given at init: repair it ({"url": "postgres://..."}) or pass --database-url again',
    };
    return new InstantError(name === 'secrets.json' ? 'INSTANT_SECRETS_CORRUPT' : 'INSTANT_STATE_CORRUPT', `${file} is damaged: ${reason}`, hints[name] ?? 'repair it by hand or restore it from a backup');
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStateShape(value: unknown): value is InstanceState {
  return isPlainObject(value) && isPlainObject(value.packages) && isPlainObject(value.database) && typeof value.database.kind === 'string';
}

/**
 * The parse error with its line and column, without the snippet of the file V8 may quote
 * (the file can hold secrets, and the message ends up in terminals and CI logs).
 */
export function jsonSyntaxError(text: string, error: Error): string {
  if (!text.trim()) return 'the file is empty';
  const reason = error.message.replace(/, ".*" is not valid JSON$/s, ' (not valid JSON)');
  const match = /at position (\d+)/.exec(reason);
  const position = match ? Number(match[1]) : /Unexpected end/.test(reason) ? text.length : undefined;
  if (position === undefined) return reason;
  const before = text.slice(0, position).split('\n');
  return `${reason.replace(/ in JSON at position \d+/, '')} at line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/** Below this much free space the embedded database cannot start or grow (initdb alone writes ~40 MB). */
const MIN_FREE_BYTES = 64 * 1024 * 1024;

/**
 * Why the state directory cannot take writes, if it cannot: asked after an unexplained failure
 * (PGlite reports a full disk as a bare "failed to start"). Tries a small write, then checks the
 * free space; undefined when the directory looks fine.
 */
export function storageProblem(dir: string): InstantError | undefined {
  const probe = join(dir, `.write-probe.${process.pid}`);
  try {
    writeFileSync(probe, 'x'.repeat(4096));
    rmSync(probe, { force: true });
    const { bavail, bsize } = statfsSync(dir);
    const free = bavail * bsize;
    if (free < MIN_FREE_BYTES) throw Object.assign(new Error(`only ${Math.floor(free / 1024)} KB free, the embedded database needs more`), { code: 'ENOSPC' });
  } catch (error) {
    rmSync(probe, { force: true });
    return storageFailure(Object.assign(error as Error, { path: dir }), dir);
  }
  return undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed detached process can linger as a zombie until its new parent reaps it.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
