/**
 * Review finding (2026-12-01): a narrative's XHTML was stored unchecked, so `text.div` with
 * `<script>`, `onclick=` or `href="javascript:..."` (stored cross-site scripting for every viewer
 * that shows narratives) and a div that is not XHTML at all were answered 201. Every write now
 * holds every narrative to txt-1/txt-2 (src/fhir/narrative.ts): create, update, patch, transaction
 * and batch entries, contained resources, JSON and XML.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirReply, type FhirTestServer } from '../fhir/support.js';

const XHTML = 'http://www.w3.org/1999/xhtml';
const SCRIPTED = `<div xmlns="${XHTML}"><script>alert(1)</script><p onclick="alert(1)">x</p></div>`;
const JAVASCRIPT_LINK = `<div xmlns="${XHTML}"><a href="javascript:alert(document.cookie)">open</a></div>`;
const narrative = (div: string): { status: string; div: string } => ({ status: 'generated', div });

/** The refusal names the narrative's path and what was refused. */
function assertRefused(reply: FhirReply, path: string, what: RegExp): void {
  assert.equal(reply.status, 400, JSON.stringify(reply.body));
  assert.equal(reply.body.resourceType, 'OperationOutcome');
  const issue = reply.body.issue.find((i: { expression?: string[] }) => i.expression?.[0] === path);
  assert.ok(issue, `no issue at ${path}: ${JSON.stringify(reply.body)}`);
  assert.match(issue.details.text, what);
}

for (const driver of testDrivers) {
  describe(`narratives are held to txt-1/txt-2 on every write (${driver})`, () => {
    let fhir: FhirTestServer;
    before(async () => {
      fhir = await startFhirServer(driver, { schema: 'fhir_narrative' });
    });
    after(async () => {
      await fhir.close();
    });

    const stored = async (family: string): Promise<number> => (await fhir.request('GET', `Patient?family=${family}&_summary=count`)).body.total;

    test('create (JSON): script, event attributes, javascript: links and non-XHTML are refused, nothing stored', async () => {
      assertRefused(await fhir.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Xss1' }], text: narrative(SCRIPTED) } }), 'Patient.text.div', /<script>/);
      assertRefused(await fhir.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Xss1' }], text: narrative(`<div xmlns="${XHTML}"><p onclick="alert(1)">x</p></div>`) } }), 'Patient.text.div', /onclick/);
      assertRefused(await fhir.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Xss1' }], text: narrative(JAVASCRIPT_LINK) } }), 'Patient.text.div', /javascript:/);
      assertRefused(await fhir.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Xss1' }], text: narrative('not xhtml') } }), 'Patient.text.div', /not well-formed XHTML/);
      assertRefused(await fhir.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Xss1' }], text: narrative('<div>x</div>') } }), 'Patient.text.div', /XHTML namespace/);
      assertRefused(await fhir.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Xss1' }], text: narrative(`<div xmlns="${XHTML}">  </div>`) } }), 'Patient.text.div', /txt-2/);
      assert.equal(await stored('Xss1'), 0);
    });

    test('a contained resource\'s narrative is checked too, and named by its path', async () => {
      const reply = await fhir.request('POST', 'Patient', {
        body: { resourceType: 'Patient', name: [{ family: 'Xss2' }], text: narrative(`<div xmlns="${XHTML}">ok</div>`), contained: [{ resourceType: 'Organization', id: 'o', text: narrative(JAVASCRIPT_LINK) }] },
      });
      assertRefused(reply, 'Patient.contained[0].text.div', /javascript:/);
      assert.equal(await stored('Xss2'), 0);
    });

    test('create (XML): the same narrative is refused', async () => {
      const xml = `<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="${XHTML}"><script>alert(1)</script><a href="javascript:alert(1)">x</a></div></text><name><family value="Xss3"/></name></Patient>`;
      const reply = await fhir.request('POST', 'Patient', { raw: xml, headers: { 'content-type': 'application/fhir+xml', accept: 'application/fhir+json' } });
      assertRefused(reply, 'Patient.text.div', /<script>/);
      assert.equal(await stored('Xss3'), 0);
    });

    test('update and patch cannot put a script into a stored resource', async () => {
      const created = await fhir.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Xss4' }], text: narrative(`<div xmlns="${XHTML}"><p>Xss4</p></div>`) } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id as string;
      assertRefused(await fhir.request('PUT', `Patient/${id}`, { body: { ...created.body, text: narrative(SCRIPTED) } }), 'Patient.text.div', /<script>/);
      const patch = await fhir.request('PATCH', `Patient/${id}`, {
        raw: JSON.stringify([{ op: 'replace', path: '/text/div', value: JAVASCRIPT_LINK }]), headers: { 'content-type': 'application/json-patch+json' },
      });
      assertRefused(patch, 'Patient.text.div', /javascript:/);
      const read = await fhir.request('GET', `Patient/${id}`);
      assert.equal(read.body.meta.versionId, '1');
      assert.equal(read.body.text.div, `<div xmlns="${XHTML}"><p>Xss4</p></div>`);
    });

    test('a transaction with one bad narrative stores nothing; a batch refuses that entry alone', async () => {
      const entries = [
        { fullUrl: 'urn:uuid:0b6f8a4e-1d57-4c0e-9b0a-1f2e3d4c5b6a', resource: { resourceType: 'Patient', name: [{ family: 'Xss5' }], text: narrative(`<div xmlns="${XHTML}">fine</div>`) }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', name: [{ family: 'Xss5' }], text: narrative(SCRIPTED) }, request: { method: 'POST', url: 'Patient' } },
      ];
      const transaction = await fhir.request('POST', '', { body: { resourceType: 'Bundle', type: 'transaction', entry: entries } });
      assert.equal(transaction.status, 400, JSON.stringify(transaction.body));
      assert.match(JSON.stringify(transaction.body), /Patient\.text\.div/);
      assert.equal(await stored('Xss5'), 0);
      const batch = await fhir.request('POST', '', { body: { resourceType: 'Bundle', type: 'batch', entry: entries } });
      assert.equal(batch.status, 200, JSON.stringify(batch.body));
      assert.deepEqual((batch.body.entry ?? []).map((e: { response: { status: string } }) => e.response.status.slice(0, 3)), ['201', '400']);
      assert.match(JSON.stringify(batch.body.entry[1].response.outcome), /<script>/);
      assert.equal(await stored('Xss5'), 1);
    });

    test('$validate reports a bad narrative; good narratives (tables, links, inline images) are stored unchanged', async () => {
      const validate = await fhir.request('POST', 'Patient/$validate', { body: { resourceType: 'Patient', text: narrative(JAVASCRIPT_LINK) } });
      assert.match(JSON.stringify(validate.body), /Patient\.text\.div/);
      const div = `<div xmlns="${XHTML}"><table border="1"><tr><td style="background-image: url(data:image/png;base64,iVBORw0KGgo=)">1</td></tr></table>` +
        '<a href="http://hl7.org/fhir">spec</a><img src="data:image/png;base64,iVBORw0KGgo=" alt="x"/></div>';
      const created = await fhir.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Xss6' }], text: narrative(div) } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.text.div, div);
    });
  });
}
