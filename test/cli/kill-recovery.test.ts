import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePackages, freePort, runInstant, tempProject } from '../support/cli.js';

test('kill -9 of the embedded process under write load loses no acknowledged write, and up recovers', async () => {
  const cwd = tempProject();
  const port = await freePort();
  const init = await runInstant(['init', 'notes', '-d', '-c', fixturePackages, '-e', `NOTES_PORT=${port}`], { cwd });
  assert.equal(init.code, 0, init.stderr);
  try {
    const key = (await runInstant(['config', '--get', 'NOTES_API_KEY'], { cwd })).stdout.trim();
    const { pid } = JSON.parse(readFileSync(join(cwd, '.instant', 'runtime.json'), 'utf8')) as { pid: number };
    const acknowledged: string[] = [];
    let stop = false;
    const writers = [0, 1, 2, 3].map(async (writer) => {
      for (let i = 0; !stop; i++) {
        const text = `w${writer}-${i}`;
        try {
          const response = await fetch(`http://127.0.0.1:${port}/notes`, { method: 'POST', headers: { 'x-api-key': key }, body: text });
          await response.arrayBuffer();
          if (response.status === 201) acknowledged.push(text);
        } catch {
          return; // the process is gone
        }
      }
    });
    while (acknowledged.length < 200) await new Promise((resolve) => setTimeout(resolve, 5));
    process.kill(pid, 'SIGKILL');
    stop = true;
    await Promise.all(writers);

    const up = await runInstant(['up', '-d'], { cwd });
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const stored = new Set((await (await fetch(`http://127.0.0.1:${port}/notes`)).json()) as string[]);
    const lost = acknowledged.filter((text) => !stored.has(text));
    assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged writes were lost`);
  } finally {
    await runInstant(['destroy', '--yes'], { cwd });
  }
});
