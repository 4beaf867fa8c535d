import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { extname, join } from 'node:path';

const SCRIPT_EXTENSIONS = new Set(['.mjs', '.js', '.cjs']);

/**
 * Where a syntax error of a service module is. Node's import() throws a SyntaxError that names
 * neither file nor line, so `node --check` is asked: first the module itself, then the other
 * scripts of the package (the error may be in a file it imports). Returns "file:line", the line
 * and a caret, as node prints them; undefined when no file is found at fault.
 */
export function locateSyntaxError(moduleFile: string, packageDir: string): string | undefined {
  for (const file of [moduleFile, ...scriptsUnder(packageDir).filter((f) => f !== moduleFile)]) {
    const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 });
    if (check.status === 0 || !check.stderr) continue;
    // file:line, the source line, the caret; then a blank line and the SyntaxError.
    const [where, source, caret] = check.stderr.split('\n');
    if (where && /:\d+$/.test(where)) return [where, source, caret].filter((l) => l !== undefined).join('\n    ');
  }
  return undefined;
}

function scriptsUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((file) => !file.split('/').includes('node_modules') && SCRIPT_EXTENSIONS.has(extname(file)))
      .map((file) => join(dir, file))
      .sort();
  } catch {
    return [];
  }
}
