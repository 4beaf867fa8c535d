/**
 * docs/mediator-sdk.md's walk-through, run as written: the commands of its `walkthrough` blocks,
 * in order, in a folder outside the checkout. The only additions are free ports on `init` (the
 * doc says how to choose them) and the temporary folder in place of ~/mediators.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, repoRoot, runInstant, tempProject } from '../support/cli.js';

function walkthroughCommands(): string[] {
  const doc = readFileSync(join(repoRoot, 'docs', 'mediator-sdk.md'), 'utf8');
  const blocks = [...doc.matchAll(/<!-- walkthrough[^>]*-->\s*```sh\n([\s\S]*?)```\s*<!-- \/walkthrough -->/g)].map((m) => m[1]!);
  assert.ok(blocks.length >= 2, 'the doc marks its walk-through blocks');
  return blocks.flatMap((block) => block.split('\n')).flatMap((line) => line.split('&&')).map((command) => command.trim()).filter(Boolean);
}

const cwd = tempProject('instant-walkthrough-');
after(async () => {
  await runInstant(['destroy', '--yes'], { cwd });
});

test('the mediator walk-through of docs/mediator-sdk.md runs as written and its features pass', async () => {
  const ports: string[] = [];
  for (const name of ['OPENHIM_API_PORT', 'OPENHIM_ROUTER_HTTP_PORT', 'OPENHIM_ROUTER_HTTPS_PORT', 'FHIR_DATASTORE_PORT', 'LAB_LOOKUP_PORT']) ports.push('-e', `${name}=${await freePort()}`);
  let testRuns = 0;
  for (const command of walkthroughCommands()) {
    // The doc's own folder for packages; the test works in a temporary one instead.
    if (/^(mkdir -p|cd) ~\/mediators$/.test(command)) continue;
    const [program, ...args] = command.split(/\s+/);
    assert.equal(program, 'instant', `the walk-through runs only instant commands: ${command}`);
    const result = await runInstant(args[0] === 'init' ? [...args, ...ports] : args, { cwd });
    assert.equal(result.code, 0, `${command}\n${result.stdout}${result.stderr}`);
    if (args[0] === 'test') {
      assert.match(result.stdout, /3 scenarios \(3 passed\)/, command);
      testRuns++;
    }
  }
  assert.equal(testRuns, 2, 'the features pass after init, and again after a restart');
});
