import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfiguration, runCucumber } from '@cucumber/cucumber/api';
import type { InstantPackage } from '../package-metadata.js';
import { shareCliModulesWithPackages } from '../package-imports.js';

export interface FeatureRunOptions {
  packages: InstantPackage[];
  vars: Record<string, string>;
  /** A remote stack: scenarios needing an unset ${NAME} are skipped (see steps.ts). */
  skipUnset?: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

function filesUnder(dir: string, suffixes: string[]): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => suffixes.some((suffix) => file.endsWith(suffix)))
    .map((file) => join(dir, file))
    .sort();
}

/**
 * Runs the packages' Gherkin features with @cucumber/cucumber against a running stack. Steps:
 * the generic HTTP steps (steps.ts) and any step files (.mjs/.js) a package keeps under
 * features/steps/. Step files import '@cucumber/cucumber' (and the mediator SDK) by name from
 * wherever the package lives: they resolve to the CLI's copies.
 */
/** The packages' .feature files. */
export function featureFiles(packages: InstantPackage[]): string[] {
  return packages.flatMap((pkg) => filesUnder(pkg.featuresDir, ['.feature']));
}

export async function runFeatures(options: FeatureRunOptions): Promise<{ success: boolean; features: number }> {
  const features = featureFiles(options.packages);
  if (features.length === 0) return { success: true, features: 0 };
  const stepFiles = [
    fileURLToPath(new URL('./steps.js', import.meta.url)),
    ...options.packages.flatMap((pkg) => filesUnder(join(pkg.featuresDir, 'steps'), ['.mjs', '.js'])),
  ];
  // The built-in packages live in the CLI's own tree, so their step files find its copies by
  // plain resolution; the resolve hook (a loader thread every later import waits on) is for
  // packages elsewhere.
  if (options.packages.some((pkg) => !pkg.builtIn)) shareCliModulesWithPackages();
  const { runConfiguration } = await loadConfiguration({
    provided: {
      paths: features,
      import: stepFiles,
      format: ['progress'],
      worldParameters: { vars: options.vars, skipUnset: options.skipUnset ?? false },
      strict: true,
    },
  });
  const { success } = await runCucumber(runConfiguration, {
    cwd: process.cwd(),
    stdout: (options.stdout ?? process.stdout) as NodeJS.WriteStream,
    stderr: (options.stderr ?? process.stderr) as NodeJS.WriteStream,
    env: process.env,
  });
  return { success, features: features.length };
}

/** Endpoint URLs as variables: interop-layer's `router` becomes INTEROP_LAYER_ROUTER_URL. */
export function endpointVars(endpoints: Record<string, Record<string, string>>): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [service, urls] of Object.entries(endpoints)) {
    for (const [name, url] of Object.entries(urls)) {
      vars[`${service}_${name}_URL`.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()] = url;
    }
  }
  return vars;
}
