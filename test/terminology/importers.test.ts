/**
 * Loading content: $import of CSV code lists (parents, quoted fields, inactive rows), FHIR
 * resources and Bundles, FHIR NPM package archives; files named by TERMINOLOGY_IMPORT_FILES at
 * start; and bad content refused with a 4xx. Concepts so loaded answer every operation.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { parseCsv } from '../../src/services/terminology/content/csv.js';
import { testDrivers } from '../support/databases.js';
import { codes, findings, localToFindings, P, param, startTerminology, type TerminologyUnderTest } from './support.js';

const q = encodeURIComponent;
const CSV = 'code,display,parent,status,group\n' +
  'root,Everything,,,\n' +
  'a,"Alpha, the first",root,,letters\n' +
  'b,"Beta ""two""",a,,letters\n' +
  'c,Gamma,a|root,retired,letters\n';

/** A FHIR NPM package: ustar entries under package/, gzipped. */
function npmPackage(files: Record<string, unknown>): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, content] of Object.entries(files)) {
    const body = Buffer.from(JSON.stringify(content));
    const header = Buffer.alloc(512);
    header.write(name, 0, 'utf8');
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('0', 156);
    header.write('ustar\u000000', 257);
    header.write('        ', 148);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

describe('CSV parsing (pure)', () => {
  test('quotes, doubled quotes, commas and line breaks inside quotes, CRLF', () => {
    assert.deepEqual(parseCsv('a,b\r\n"x, y","say ""hi"""\n"two\nlines",z'), [['a', 'b'], ['x, y', 'say "hi"'], ['two\nlines', 'z']]);
  });
});

for (const driver of testDrivers) {
  describe(`terminology importers on ${driver}`, () => {
    let tx: TerminologyUnderTest;
    let dir: string;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'instant-tx-import-'));
      await writeFile(join(dir, 'wards.csv'), 'code,display\nW1,Ward one\nW2,Ward two\n');
      await writeFile(join(dir, 'wards.csv.json'), JSON.stringify({ resourceType: 'CodeSystem', url: 'http://example.org/cs/wards', name: 'Wards', status: 'active', content: 'complete' }));
      await writeFile(join(dir, 'findings.json'), JSON.stringify(findings));
      tx = await startTerminology(driver, { TERMINOLOGY_IMPORT_FILES: `${join(dir, 'wards.csv')},${join(dir, 'findings.json')}` });
    });
    after(async () => {
      await tx.close();
      await rm(dir, { recursive: true, force: true });
    });

    test('files named at start are imported (CSV with its CodeSystem beside it, FHIR JSON)', async () => {
      const ward = await tx.get(`CodeSystem/$lookup?system=${q('http://example.org/cs/wards')}&code=W2`);
      assert.equal(param(ward.body, 'display'), 'Ward two');
      const stored = await tx.get(`CodeSystem?url=${q('http://example.org/cs/wards')}`);
      assert.equal(stored.body.entry[0].resource.content, 'not-present', 'bulk-loaded concepts live in the tables, not the resource');
      assert.equal(stored.body.entry[0].resource.count, 2);
      assert.equal(param((await tx.get(`CodeSystem/$subsumes?system=${q(findings.url)}&codeA=heart&codeB=mi`)).body, 'outcome'), 'subsumes');
    });

    test('$import csv: parents (several), quoted fields, status, extra columns as properties; the answer gives the rate', async () => {
      const url = 'http://example.org/cs/letters';
      const imported = await tx.post('$import', P({ name: 'csv', valueString: CSV }, { name: 'url', valueUri: url }, { name: 'name', valueString: 'Letters' }, { name: 'version', valueString: '2' }));
      assert.equal(imported.status, 200, JSON.stringify(imported.body));
      assert.match(imported.body.issue[0].diagnostics, /4 concepts .* concepts\/s/);
      const b = await tx.get(`CodeSystem/$lookup?system=${q(url)}&code=b&property=parent&property=group`);
      assert.equal(param(b.body, 'display'), 'Beta "two"');
      assert.deepEqual(b.body.parameter.filter((p: { name: string }) => p.name === 'property').map((p: { part: Array<{ valueCode?: string; valueString?: string }> }) => p.part[1]!.valueCode ?? p.part[1]!.valueString).sort(), ['a', 'letters']);
      assert.equal(param((await tx.get(`CodeSystem/$subsumes?system=${q(url)}&codeA=root&codeB=b`)).body, 'outcome'), 'subsumes');
      const all = await tx.get(`ValueSet/$expand?url=${q(`${url}?fhir_vs`)}&activeOnly=true`);
      assert.deepEqual(codes(all.body).sort(), ['a', 'b', 'root'], 'the retired row is inactive');
      const again = await tx.post('$import', P({ name: 'csv', valueString: 'code,display\nroot,Everything again\n' }, { name: 'url', valueUri: url }, { name: 'version', valueString: '2' }));
      assert.equal(again.status, 200);
      assert.equal(param((await tx.get(`CodeSystem/$lookup?system=${q(url)}&code=root`)).body, 'display'), 'Everything again', 'an import replaces the version');
      assert.equal(((await tx.get(`CodeSystem?url=${q(url)}`)).body.entry?.length ?? 0), 1, 'one CodeSystem resource per url and version');
    });

    test('$import resources and Bundles, and NPM packages; other types are skipped', async () => {
      const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: localToFindings }, { resource: { resourceType: 'Patient' } }] };
      const imported = await tx.post('$import', P({ name: 'resource', resource: bundle }));
      assert.equal(imported.status, 200, JSON.stringify(imported.body));
      assert.match(imported.body.issue[0].diagnostics, /skipped 1/);
      assert.equal(param((await tx.get(`ConceptMap/$translate?system=${q('urn:test:cs/local')}&code=L-TACHY`)).body, 'result'), true);
      const pkg = npmPackage({
        'package/package.json': { name: 'example.terminology', version: '1.0.0' },
        'package/CodeSystem-colours.json': { resourceType: 'CodeSystem', url: 'http://example.org/cs/colours', status: 'active', content: 'complete', concept: [{ code: 'red', display: 'Red' }] },
        'package/ValueSet-colours.json': { resourceType: 'ValueSet', url: 'http://example.org/vs/colours', status: 'active', compose: { include: [{ system: 'http://example.org/cs/colours' }] } },
        'package/other/ignored.json': { resourceType: 'CodeSystem', url: 'http://example.org/cs/ignored', status: 'active', content: 'complete' },
      });
      const fromPackage = await tx.post('$import', P({ name: 'package', valueBase64Binary: pkg.toString('base64') }));
      assert.equal(fromPackage.status, 200, JSON.stringify(fromPackage.body));
      assert.deepEqual(codes((await tx.get(`ValueSet/$expand?url=${q('http://example.org/vs/colours')}`)).body), ['red']);
      assert.equal((await tx.get(`CodeSystem?url=${q('http://example.org/cs/ignored')}`)).body.entry?.length ?? 0, 0);
    });

    test('bad content is a 400: CSV without a code column or a code, unterminated quotes, not a gzip, no url, nothing to import', async () => {
      const refuse = async (...parameter: unknown[]): Promise<void> => {
        const reply = await tx.post('$import', P(...parameter));
        assert.equal(reply.status, 400, JSON.stringify(reply.body));
        assert.equal(reply.body.resourceType, 'OperationOutcome');
      };
      await refuse({ name: 'csv', valueString: 'name,display\nx,y' }, { name: 'url', valueUri: 'http://example.org/cs/x' });
      await refuse({ name: 'csv', valueString: 'code,display\n,y' }, { name: 'url', valueUri: 'http://example.org/cs/x' });
      await refuse({ name: 'csv', valueString: 'code,display\n"x,y' }, { name: 'url', valueUri: 'http://example.org/cs/x' });
      await refuse({ name: 'csv', valueString: 'code\nx' });
      // A csv sent as base64 (as "package" is) was ignored, then refused as if no csv had been given.
      const base64 = await tx.post('$import', P({ name: 'csv', valueBase64Binary: Buffer.from('code\nx\n').toString('base64') }, { name: 'url', valueUri: 'http://example.org/cs/b64' }));
      assert.equal(base64.status, 400);
      assert.match(base64.body.issue[0].diagnostics, /"csv".*valueString/, JSON.stringify(base64.body));
      await refuse({ name: 'package', valueBase64Binary: Buffer.from('not gzip').toString('base64') });
      await refuse();
      await refuse({ name: 'wat', valueString: 'x' });
      assert.equal((await tx.get('$import')).status, 405);
    });
  });
}
