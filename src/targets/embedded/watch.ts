import { watch, type FSWatcher } from 'node:fs';
import { extname } from 'node:path';
import type { InstantPackage } from '../../platform/package-metadata.js';

/** What a change to is a change of the package's running code or metadata (features are not). */
const RELOADED_EXTENSIONS = new Set(['.mjs', '.js', '.cjs', '.json']);
/** Editors write a file in several steps (and save several files at once): one reload for a burst. */
const DEBOUNCE_MS = 300;

/**
 * `instant up --watch`: watches custom packages' folders and calls onChange once per burst of
 * changes to a package's scripts or JSON files (node_modules and features/ are left out).
 */
export class PackageWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly onChange: (packageId: string, file: string) => void) {}

  watch(pkg: InstantPackage): void {
    if (pkg.builtIn || this.watchers.has(pkg.id) || !pkg.services.some((s) => s.module)) return;
    const watcher = watch(pkg.dir, { recursive: true }, (_event, name) => {
      const file = name?.toString() ?? '';
      const parts = file.split('/');
      if (parts.includes('node_modules') || parts[0] === 'features' || !RELOADED_EXTENSIONS.has(extname(file))) return;
      clearTimeout(this.timers.get(pkg.id));
      this.timers.set(pkg.id, setTimeout(() => this.onChange(pkg.id, file), DEBOUNCE_MS));
    });
    watcher.on('error', () => this.unwatch(pkg.id)); // the folder went away: nothing more to watch
    this.watchers.set(pkg.id, watcher);
  }

  unwatch(packageId: string): void {
    this.watchers.get(packageId)?.close();
    this.watchers.delete(packageId);
    clearTimeout(this.timers.get(packageId));
    this.timers.delete(packageId);
  }

  close(): void {
    for (const id of [...this.watchers.keys()]) this.unwatch(id);
  }
}
