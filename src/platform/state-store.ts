import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InstantError } from '../common/errors.js';

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
  controlSocket: string;
}

export class StateStore {
  constructor(readonly dir: string) {}

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
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    mkdirSync(this.logsDir, { recursive: true });
  }

  readState(): InstanceState | undefined {
    return this.readJson<InstanceState>('state.json');
  }

  writeState(state: InstanceState): void {
    // 0600: remembered -e values may hold a password someone chose to pass.
    this.writeJson('state.json', state, 0o600);
  }

  readSecrets(): Record<string, string> {
    return this.readJson<Record<string, string>>('secrets.json') ?? {};
  }

  writeSecrets(secrets: Record<string, string>): void {
    this.writeJson('secrets.json', secrets, 0o600);
  }

  readRuntime(): RuntimeInfo | undefined {
    return this.readJson<RuntimeInfo>('runtime.json');
  }

  writeRuntime(runtime: RuntimeInfo): void {
    this.writeJson('runtime.json', runtime);
  }

  clearRuntime(): void {
    rmSync(join(this.dir, 'runtime.json'), { force: true });
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
    rmSync(this.dir, { recursive: true, force: true });
  }

  private readJson<T>(name: string): T | undefined {
    const file = join(this.dir, name);
    if (!existsSync(file)) return undefined;
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as T;
    } catch (error) {
      throw new InstantError('INSTANT_STATE_CORRUPT', `cannot read ${file}: ${(error as Error).message}`, `remove it, or run \`instant destroy\` to start over`);
    }
  }

  /** Written to a temporary file and renamed, so a crash never leaves half a file. */
  private writeJson(name: string, value: unknown, mode = 0o644): void {
    this.ensure();
    const file = join(this.dir, name);
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`, { mode });
    chmodSync(temp, mode);
    renameSync(temp, file);
  }
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
