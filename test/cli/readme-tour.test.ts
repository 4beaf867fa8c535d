/**
 * The README's five-minute tour, command by command as a newcomer types it (`npx instant ...`,
 * curl), from the checkout, on a state directory of its own. The only change to the text: the
 * ports, moved off the defaults with `-e NAME=value` as the README's settings line says, so the
 * test never meets another stack; the curl lines get the same ports.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, repoRoot } from '../support/cli.js';

/** The first sh block after "## Five-minute tour": one command per line, comments dropped. */
function tourCommands(): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const tour = readme.slice(readme.indexOf('## Five-minute tour'));
  const block = /```sh\n([\s\S]*?)```/.exec(tour)![1]!;
  const lines: string[] = [];
  let pending = '';
  for (const raw of block.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').replace(/^#.*$/, '').trimEnd();
    if (!line.trim()) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    lines.push(`${pending}${line.trim()}`);
    pending = '';
  }
  return lines;
}

const stateDir = mkdtempSync(join(tmpdir(), 'readme-tour-'));
const env = { ...process.env, INSTANT_STATE_DIR: stateDir, INSTANT_LOG_LEVEL: 'info' };
after(() => {
  spawnSync('npx', ['instant', 'destroy', '--yes'], { cwd: repoRoot, env, encoding: 'utf8' });
  rmSync(stateDir, { recursive: true, force: true });
});

test("the README's tour works as written, each command saying what it should", { skip: spawnSync('curl', ['--version']).status !== 0 ? 'curl is not installed' : false }, async () => {
  const ports = { OPENHIM_API_PORT: await freePort(), OPENHIM_ROUTER_HTTP_PORT: await freePort(), OPENHIM_ROUTER_HTTPS_PORT: await freePort(), FHIR_DATASTORE_PORT: await freePort() };
  const portFlags = Object.entries(ports).map(([name, port]) => `-e ${name}=${port}`).join(' ');
  const expectations: Array<[RegExp, RegExp]> = [
    [/^npx instant list$/, /core/],
    [/^npx instant init core -d$/, /Ready in/],
    [/^npx instant status$/, /healthy/],
    [/\/fhir\/Patient$/, /"resourceType":"Bundle"/],
    [/\/transactions\?filterLimit=5'$/, /"clientID"/],
    [/^npx instant test core$/, /passed/],
    [/^npx instant logs interop-layer -f$/, /./],
    [/^npx instant config$/, /OPENHIM_ROOT_PASSWORD/],
    [/^npx instant down$/, /Stopped/],
    [/^npx instant up -d$/, /Ready in/],
    [/^npx instant destroy --yes$/, /./],
  ];
  const commands = tourCommands();
  assert.equal(commands.length, expectations.length, `the tour has ${commands.length} commands; this test knows ${expectations.length}: update both together`);
  for (const [index, written] of commands.entries()) {
    const [shape, output] = expectations[index]!;
    assert.match(written, shape, `tour command ${index + 1} changed: update the test`);
    const command = written
      .replace(/^npx instant (init|up) (.*)$/, `npx instant $1 $2 ${portFlags}`)
      .replace(/127\.0\.0\.1:5001/g, `127.0.0.1:${ports.OPENHIM_ROUTER_HTTP_PORT}`)
      .replace(/127\.0\.0\.1:8080/g, `127.0.0.1:${ports.OPENHIM_API_PORT}`)
      .replace(/ -f$/, ' -n 5'); // following never ends: the last lines show the same thing
    const result = spawnSync('bash', ['-c', command], { cwd: repoRoot, env, encoding: 'utf8', timeout: 240_000 });
    const shown = `$ ${command}\n${result.stdout}\n${result.stderr}`;
    assert.equal(result.status, 0, shown);
    assert.match(result.stdout, output, shown);
    assert.doesNotMatch(`${result.stdout}${result.stderr}`, /\n\s+at .*\(.*:\d+:\d+\)/, `no stack trace: ${shown}`);
  }
});
