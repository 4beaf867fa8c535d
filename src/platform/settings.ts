import { InstantError } from '../common/errors.js';
import type { Settings } from '../services/service.js';

const TRUE_VALUES = new Set(['1', 'true', 'yes', 'on']);
const FALSE_VALUES = new Set(['0', 'false', 'no', 'off']);

/** Immutable resolved settings, read by services through the Settings interface. */
export class SettingsMap implements Settings {
  private readonly values: ReadonlyMap<string, string>;

  constructor(values: Record<string, string> | Map<string, string>) {
    this.values = new Map(values instanceof Map ? values : Object.entries(values));
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  require(name: string): string {
    const value = this.values.get(name);
    if (value === undefined || value === '') {
      throw new InstantError('INSTANT_SETTING_MISSING', `setting ${name} is not set`, `pass it with -e ${name}=... or in an --env-file`);
    }
    return value;
  }

  int(name: string, fallback?: number): number {
    const raw = this.values.get(name);
    if (raw === undefined || raw === '') {
      if (fallback !== undefined) return fallback;
      return Number(this.require(name));
    }
    const value = Number(raw);
    if (!Number.isInteger(value)) {
      throw new InstantError('INSTANT_SETTING_INVALID', `setting ${name}="${raw}" is not a whole number`);
    }
    // Every port setting is named *_PORT; out of range, Node's listen() would refuse it only once the
    // service had set itself up, with a message that names no setting.
    if (name.endsWith('_PORT') && (value < 0 || value > 65535)) {
      throw new InstantError('INSTANT_SETTING_INVALID', `setting ${name}="${raw}" is not a port number`, `use 1 to 65535 (-e ${name}=<port>)`);
    }
    return value;
  }

  bool(name: string, fallback = false): boolean {
    const raw = this.values.get(name)?.toLowerCase();
    if (raw === undefined || raw === '') return fallback;
    if (TRUE_VALUES.has(raw)) return true;
    if (FALSE_VALUES.has(raw)) return false;
    throw new InstantError('INSTANT_SETTING_INVALID', `setting ${name}="${raw}" is not a boolean`, 'use true or false');
  }

  entries(): Record<string, string> {
    return Object.fromEntries(this.values);
  }
}
