import { readdirSync, watch, type FSWatcher } from 'node:fs';
import { extname, join, relative } from 'node:path';
import type { InstantPackage } from '../../platform/package-metadata.js';

/** What a change to is a change of the package's running code or metadata (features are not). */
const RELOADED_EXTENSIONS = new Set(['.mjs', '.js', '.cjs', '.json']);
/** Editors write a file in several steps (and save several files at once): one reload for a burst. */
const DEBOUNCE_MS = 300;
/** Folders below the package's own watched for changes (deeper code is rare in a package). */
const MAX_DEPTH = 3;
const SKIPPED_FOLDERS = new Set(['node_modules', 'features', '.git']);

/**
 * `instant up --watch`: watches custom packages' folders and calls onChange once per burst of
 * changes to a package's scripts or JSON files (node_modules and features/ are left out).
 * Each folder is watched on its own, not with `recursive`: Node 20's recursive watch on Linux
 * loses a file replaced by rename (how vim, JetBrains IDEs and `sed -i` save), and a watched
 * folder sees every save, in place or by rename.
 */
export class PackageWatcher {
  private readonly watchers = new Map<string, FSWatcher[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly onChange: (packageId: string, file: string) => void) {}

  watch(pkg: InstantPackage): void {
    if (pkg.builtIn || this.watchers.has(pkg.id) || !pkg.services.some((s) => s.module)) return;
    const watchers: FSWatcher[] = [];
    for (const folder of foldersOf(pkg.dir, MAX_DEPTH)) {
      try {
        const watcher = watch(folder, (_event, name) => {
          const file = relative(pkg.dir, join(folder, name?.toString() ?? ''));
          if (!RELOADED_EXTENSIONS.has(extname(file))) return;
          clearTimeout(this.timers.get(pkg.id));
          this.timers.set(pkg.id, setTimeout(() => this.onChange(pkg.id, file), DEBOUNCE_MS));
        });
        watcher.on('error', () => watcher.close()); // the folder went away: nothing more to watch there
        watchers.push(watcher);
      } catch {
        // A folder removed while listing: nothing to watch there.
      }
    }
    this.watchers.set(pkg.id, watchers);
  }

  unwatch(packageId: string): void {
    for (const watcher of this.watchers.get(packageId) ?? []) watcher.close();
    this.watchers.delete(packageId);
    clearTimeout(this.timers.get(packageId));
    this.timers.delete(packageId);
  }

  close(): void {
    for (const id of [...this.watchers.keys()]) this.unwatch(id);
  }
}

/** The folder and its sub-folders down to `depth`, without node_modules, features and .git. */
function foldersOf(dir: string, depth: number): string[] {
  const found = [dir];
  if (depth === 0) return found;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (entry.isDirectory() && !SKIPPED_FOLDERS.has(entry.name)) found.push(...foldersOf(join(dir, entry.name), depth - 1));
  }
  return found;
}
