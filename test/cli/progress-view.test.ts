import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { progressView } from '../../src/cli/progress-view.js';

function capture(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & { isTTY: boolean; columns: number; rows: number };
  stream.isTTY = tty;
  stream.columns = 120;
  stream.rows = 40;
  let text = '';
  (stream as unknown as PassThrough).on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

async function runStart(view: ReturnType<typeof progressView>): Promise<void> {
  view.step('opening the embedded database in /x/pgdata (creating it: the first start takes a few seconds)');
  view.packageStep('fhir-datastore', 'waiting for shared-health-record to be healthy');
  view.packageDone('fhir-datastore', 'deployed', 1200);
  view.packageStep('core', 'importing importer/openhim-config.json');
  view.info('Started.');
  await new Promise((resolve) => setTimeout(resolve, 200));
  await view.close();
}

// Issue 9, Build "Progress": spinners with elapsed time in a terminal, plain lines elsewhere,
// and what is being waited for always named.
test('in a terminal, progress is a live list of packages that ends with their elapsed times', async () => {
  const out = capture(true);
  await runStart(progressView(['fhir-datastore', 'core'], { stdout: out.stream, stderr: out.stream, tty: true }));
  const text = out.text();
  assert.match(text, /fhir-datastore deployed/);
  assert.match(text, /Preparing: opening the embedded database/);
  assert.match(text, /\[[\d.]+m?s\]/, 'elapsed time is shown');
  assert.match(text, /core: not started|core: importing/, 'a package that did not finish ends as it was');
  assert.match(text, /Started\.\n$/, 'held-back messages are printed after the display');
});

test('outside a terminal, progress is plain lines that name each wait', async () => {
  const out = capture(false);
  await runStart(progressView(['fhir-datastore', 'core'], { stdout: out.stream }));
  assert.equal(
    out.text(),
    [
      '  … opening the embedded database in /x/pgdata (creating it: the first start takes a few seconds)',
      '  … fhir-datastore: waiting for shared-health-record to be healthy',
      '  ✔ fhir-datastore deployed (1.2 s)',
      '  … core: importing importer/openhim-config.json',
      'Started.',
      '',
    ].join('\n'),
  );
});
