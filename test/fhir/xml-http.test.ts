/** FHIR XML over HTTP: every read and write in application/fhir+xml, negotiated as the spec says. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { xmlToResource } from '../../src/fhir/format/xml.js';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

const XML = 'application/fhir+xml';

const PATIENT_XML = `<?xml version="1.0" encoding="UTF-8"?>
<Patient xmlns="http://hl7.org/fhir">
  <identifier><system value="urn:test:xml"/><value value="XML-1"/></identifier>
  <name><family value="Okafor"/><given value="Ada"/><given value="N."/></name>
  <gender value="female"/>
  <birthDate value="1970-03-01"/>
</Patient>`;

for (const driver of testDrivers) {
  describe(`FHIR XML over HTTP on ${driver}`, () => {
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver);
    });
    after(async () => {
      await s.close();
    });

    async function call(method: string, path: string, init: { body?: string; contentType?: string; accept?: string } = {}) {
      const response = await fetch(`${s.base}/${path}`, {
        method,
        headers: { ...(init.contentType ? { 'content-type': init.contentType } : {}), ...(init.accept ? { accept: init.accept } : {}) },
        body: init.body,
      });
      return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text(), location: response.headers.get('location') };
    }

    test('create from XML, read back as XML (Accept or _format) and as JSON', async () => {
      const created = await call('POST', 'Patient', { body: PATIENT_XML, contentType: XML });
      assert.equal(created.status, 201, created.text);
      assert.match(created.type, /^application\/fhir\+xml/, 'answered in the format of the body when Accept is absent');
      const id = (xmlToResource(created.text) as { id: string }).id;
      assert.ok(id);

      const viaAccept = await call('GET', `Patient/${id}`, { accept: XML });
      assert.match(viaAccept.type, /^application\/fhir\+xml/);
      const patient = xmlToResource(viaAccept.text) as Record<string, unknown>;
      assert.deepEqual((patient.name as unknown[])[0], { family: 'Okafor', given: ['Ada', 'N.'] });
      assert.match(viaAccept.text, /^<\?xml version="1.0" encoding="UTF-8"\?><Patient xmlns="http:\/\/hl7.org\/fhir"><id value="[^"]+"\/><meta>/);

      const viaFormat = await call('GET', `Patient/${id}?_format=xml`, { accept: 'application/fhir+json' });
      assert.match(viaFormat.type, /^application\/fhir\+xml/, '_format overrides Accept');
      const json = await call('GET', `Patient/${id}`, { accept: 'application/fhir+json' });
      assert.equal(JSON.parse(json.text).birthDate, '1970-03-01');
      const weighted = await call('GET', `Patient/${id}`, { accept: 'application/fhir+json;q=0.5, application/fhir+xml;q=0.9' });
      assert.match(weighted.type, /xml/, 'the highest q wins');
    });

    test('update from XML, search and history bundles as XML, $validate in XML', async () => {
      const put = await call('PUT', 'Patient/xml-put', { body: PATIENT_XML.replace('<identifier>', '<id value="xml-put"/><identifier>'), contentType: XML, accept: XML });
      assert.equal(put.status, 201, put.text);
      const search = await call('GET', 'Patient?identifier=urn:test:xml|XML-1', { accept: XML });
      assert.equal(search.status, 200);
      const bundle = xmlToResource(search.text) as { resourceType: string; type: string; entry: Array<{ resource: { resourceType: string } }> };
      assert.equal(bundle.resourceType, 'Bundle');
      assert.equal(bundle.type, 'searchset');
      assert.ok((bundle.entry?.length ?? 0) >= 1);
      assert.equal(bundle.entry[0]!.resource.resourceType, 'Patient');
      const history = xmlToResource((await call('GET', 'Patient/xml-put/_history', { accept: XML })).text) as { type: string };
      assert.equal(history.type, 'history');
      const validate = await call('POST', 'Patient/$validate', { body: PATIENT_XML, contentType: XML, accept: XML });
      assert.equal(validate.status, 200);
      assert.equal((xmlToResource(validate.text) as { resourceType: string }).resourceType, 'OperationOutcome');
    });

    test('a transaction bundle in XML is processed and answered in XML', async () => {
      const bundleXml = `<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/>
        <entry><fullUrl value="urn:uuid:0a9a5f0e-3b8c-4b67-8f6e-0c6a3f1e2d01"/><resource>${PATIENT_XML.replace(/^<\?xml[^>]*>\s*/, '').replace(' xmlns="http://hl7.org/fhir"', '')}</resource>
          <request><method value="POST"/><url value="Patient"/></request></entry>
        <entry><resource><Observation><status value="final"/><code><text value="weight"/></code>
          <subject><reference value="urn:uuid:0a9a5f0e-3b8c-4b67-8f6e-0c6a3f1e2d01"/></subject>
          <valueQuantity><value value="61.50"/><unit value="kg"/></valueQuantity></Observation></resource>
          <request><method value="POST"/><url value="Observation"/></request></entry></Bundle>`;
      const answer = await call('POST', '', { body: bundleXml, contentType: XML });
      assert.equal(answer.status, 200, answer.text);
      const response = xmlToResource(answer.text) as { type: string; entry: Array<{ response: { status: string; location: string } }> };
      assert.equal(response.type, 'transaction-response');
      assert.deepEqual(response.entry.map((e) => e.response.status), ['201 Created', '201 Created']);
      const observationPath = /(Observation\/[^/]+)/.exec(response.entry[1]!.response.location)![1]!;
      const observation = JSON.parse((await call('GET', observationPath, { accept: 'application/fhir+json' })).text);
      assert.equal(observation.valueQuantity.value, 61.5);
      assert.match(observation.subject.reference, /^Patient\//, 'the urn:uuid reference was resolved');
    });

    test('bad XML and invalid resources are OperationOutcomes in XML; an unknown format is 406 in JSON', async () => {
      const malformed = await call('POST', 'Patient', { body: '<Patient xmlns="http://hl7.org/fhir"><gender value="x"', contentType: XML });
      assert.equal(malformed.status, 400);
      assert.match(malformed.type, /xml/);
      const outcome = xmlToResource(malformed.text) as { resourceType: string; issue: Array<{ code: string }> };
      assert.equal(outcome.resourceType, 'OperationOutcome');
      assert.equal(outcome.issue[0]!.code, 'structure');
      const dtd = await call('POST', 'Patient', { body: '<!DOCTYPE x [<!ENTITY a "b">]><Patient xmlns="http://hl7.org/fhir"/>', contentType: XML });
      assert.equal(dtd.status, 400);
      const invalid = await call('POST', 'Patient', { body: '<Patient xmlns="http://hl7.org/fhir"><gender value="sometimes"/></Patient>', contentType: XML, accept: XML });
      assert.equal(invalid.status, 400);
      assert.match(invalid.text, /<OperationOutcome xmlns="http:\/\/hl7.org\/fhir">/);
      const unknown = await call('GET', 'metadata', { accept: 'application/pdf' });
      assert.equal(unknown.status, 406);
      assert.equal(JSON.parse(unknown.text).resourceType, 'OperationOutcome');
    });

    test('a resource whose FHIR and XHTML elements carry prefixes is created, and read back as FHIR XML', async () => {
      const prefixed = '<f:Patient xmlns:f="http://hl7.org/fhir"><f:text><f:status value="generated"/>'
        + '<xhtml:div xmlns:xhtml="http://www.w3.org/1999/xhtml"><xhtml:p>Prefixed</xhtml:p></xhtml:div></f:text><f:gender value="male"/></f:Patient>';
      const created = await call('POST', 'Patient', { body: prefixed, contentType: XML });
      assert.equal(created.status, 201, created.text);
      assert.match(created.text, /<div xmlns="http:\/\/www.w3.org\/1999\/xhtml"><p>Prefixed<\/p><\/div>/);
      const schemaHinted = await call('POST', 'Patient', {
        body: '<Patient xmlns="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://hl7.org/fhir fhir-all.xsd"><gender value="male"/></Patient>',
        contentType: XML,
      });
      assert.equal(schemaHinted.status, 201, schemaHinted.text);
    });

    // http.html#mime-type: _format takes application/fhir+xml; a client that writes the "+" unescaped
    // sends a space (application/x-www-form-urlencoded), which FHIR servers read as the "+" meant.
    test('_format with an unescaped "+" (a space once decoded) is the media type it was meant to be', async () => {
      for (const [format, type] of [['application/fhir+xml', /xml/], ['application/xml+fhir', /xml/], ['application/fhir+json', /json/]] as const) {
        const answer = await call('GET', `metadata?_summary=true&_format=${format}`);
        assert.equal(answer.status, 200, `${format}: ${answer.text.slice(0, 200)}`);
        assert.match(answer.type, type, format);
      }
      assert.equal((await call('GET', 'metadata?_format=application/fhir+pdf')).status, 406);
    });

    // search.html#paging: the client follows next/previous as given; a link that dropped _format
    // would switch the format mid-way through the pages.
    test('paging links of searches and histories keep _format, _pretty, _summary and _elements', async () => {
      for (let i = 0; i < 3; i++) await call('POST', 'Patient', { body: PATIENT_XML.replace('XML-1', 'XML-PAGE'), contentType: XML });
      const nextOf = (text: string): string => {
        const bundle = xmlToResource(text) as { link?: Array<{ relation: string; url: string }> };
        const next = bundle.link?.find((l) => l.relation === 'next')?.url;
        assert.ok(next, 'has a next link');
        return next.slice(s.base.length + 1);
      };
      const first = await call('GET', 'Patient?identifier=urn:test:xml|XML-PAGE&_count=1&_format=xml&_pretty=true&_elements=gender');
      assert.match(first.type, /xml/);
      const next = nextOf(first.text);
      assert.match(next, /_format=xml/);
      assert.match(next, /_pretty=true/);
      assert.match(next, /_elements=gender/);
      const second = await call('GET', next);
      assert.equal(second.status, 200, second.text);
      assert.match(second.type, /xml/, `next link ${next} answered ${second.type}`);
      const previous = (xmlToResource(second.text) as { link: Array<{ relation: string; url: string }> }).link.find((l) => l.relation === 'previous')!.url;
      assert.match(previous, /_format=xml/);

      // A POST _search's form parameters are its parameters, _format among them (search.html, PDQm ITI-78).
      const posted = await call('POST', 'Patient/_search', { body: 'identifier=urn:test:xml|XML-PAGE&_count=1&_format=xml', contentType: 'application/x-www-form-urlencoded' });
      assert.equal(posted.status, 200, posted.text);
      assert.match(posted.type, /xml/);
      assert.match(nextOf(posted.text), /_format=xml/);

      const history = await call('GET', 'Patient/_history?_count=1&_format=application/fhir+xml&_summary=true');
      assert.match(history.type, /xml/);
      const historyNext = nextOf(history.text);
      assert.match(historyNext, /_summary=true/);
      assert.match((await call('GET', historyNext)).type, /xml/, `history next link ${historyNext}`);
    });

    test('an empty XML body is refused with a message that does not ask for JSON', async () => {
      const empty = await call('POST', 'Patient', { body: '', contentType: XML });
      assert.equal(empty.status, 400);
      assert.match(empty.type, /xml/);
      const outcome = xmlToResource(empty.text) as { issue: Array<{ diagnostics: string }> };
      assert.doesNotMatch(outcome.issue[0]!.diagnostics, /JSON object/);
      assert.match(outcome.issue[0]!.diagnostics, /no (resource|body)/i);
    });

    test('the CapabilityStatement lists XML among its formats, and is served in XML', async () => {
      const metadata = await call('GET', 'metadata', { accept: XML });
      assert.equal(metadata.status, 200);
      const statement = xmlToResource(metadata.text) as { format: string[] };
      assert.ok(statement.format.includes('application/fhir+xml'));
    });
  });
}
