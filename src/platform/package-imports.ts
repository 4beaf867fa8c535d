/**
 * Lets a package's own modules (service modules, feature step files) import what the CLI
 * provides by bare name, wherever the package lives: '@cucumber/cucumber' always resolves to the
 * CLI's copy (a second copy would register its steps in a library the runner never reads), and
 * the mediator SDK to the package's own install when it has one, else to the CLI's.
 */
import { register } from 'node:module';

let registered = false;

/** Installs the resolve hook (package-import-hooks.ts) once per process. */
export function shareCliModulesWithPackages(): void {
  if (registered) return;
  registered = true;
  register('./package-import-hooks.js', {
    parentURL: import.meta.url,
    data: { cliURL: import.meta.url },
  });
}
