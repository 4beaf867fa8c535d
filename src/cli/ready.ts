import type { Deployment } from '../platform/deployment.js';
import { interpolate } from '../platform/interpolate.js';
import { settingValues } from '../platform/settings-resolver.js';

/** What a started instance tells its user: endpoints, generated secrets, each package's usage. */
export function printReady(deployment: Deployment, endpoints: Record<string, Record<string, string>>, generatedSecrets: string[], elapsedMs: number): void {
  const out = process.stdout;
  out.write(`\nReady in ${(elapsedMs / 1000).toFixed(1)} s.\n`);
  for (const [service, urls] of Object.entries(endpoints)) {
    for (const [name, url] of Object.entries(urls)) out.write(`  ${service} ${name}: ${url}\n`);
  }
  if (generatedSecrets.length) {
    out.write(`\nGenerated secrets (stored in ${deployment.store.secretsFile}, mode 0600): ${generatedSecrets.join(', ')}\n`);
    out.write('  Read one with `instant config --get NAME`, all with `instant config --show-secrets`.\n');
    out.write('  (`instant` is `npx instant` inside this project, or run `npm link` once to have it everywhere.)\n');
  }
  const vars = settingValues(deployment.settingsWith(deployment.store.readSecrets()));
  const usage = deployment.plan.ordered.flatMap((pkg) => {
    try {
      return interpolate(pkg.usage, vars, pkg.id);
    } catch {
      return [];
    }
  });
  if (usage.length) out.write(`\n${usage.join('\n')}\n`);
}
