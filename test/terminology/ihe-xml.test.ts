/**
 * IHE Connectathon-style checks that SVCM ITI-95..ITI-101 work in FHIR XML as well as JSON,
 * (ITI-95 to ITI-101) directly and through the package's channels: content written in XML, $lookup, $validate-code,
 * $subsumes, $translate and $expand answered as XML Parameters/ValueSet (valueCoding, nested part),
 * Parameters XML bodies taken, reads and searches in XML, errors as XML OperationOutcomes.
 * Pure format checks: PGlite only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resourceToXml } from '../../src/fhir/format/xml.js';
import { basic, startIol, type Iol } from '../interop-layer/support.js';
import { isFhirXml, requestXml } from '../support/fhir-xml.js';
import { FINDINGS, LOCAL, findings, localToFindings, params, part, startTerminology, valueSets, type TerminologyUnderTest } from './support.js';

const importer = JSON.parse(readFileSync(new URL('../../../packages/terminology/importer/openhim-config.json', import.meta.url), 'utf8'));
const q = encodeURIComponent;

const TRANSLATE_XML = `<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="url"/><valueUri value="${localToFindings.url}"/></parameter>` +
  `<parameter><name value="coding"/><valueCoding><system value="${LOCAL}"/><code value="L-TACHY"/></valueCoding></parameter></Parameters>`;
const VALIDATE_XML = `<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="url"/><valueUri value="http://example.org/vs/heart"/></parameter>` +
  `<parameter><name value="coding"/><valueCoding><system value="${FINDINGS}"/><code value="tachy"/></valueCoding></parameter></Parameters>`;
const EXPAND_XML = `<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="url"/><valueUri value="http://example.org/vs/heart"/></parameter>` +
  `<parameter><name value="count"/><valueInteger value="10"/></parameter></Parameters>`;

describe('terminology: SVCM in FHIR XML (PGlite)', () => {
  let tx: TerminologyUnderTest;
  let iol: Iol;
  let auth: Record<string, string>;
  let admin: Record<string, string>;
  const bases = () => [['direct', tx.base, {}], ['router', `${iol.router}/terminology/fhir`, auth]] as Array<[string, string, Record<string, string>]>;

  before(async () => {
    tx = await startTerminology('pglite');
    iol = await startIol('pglite');
    for (const channel of importer.Channels) {
      assert.equal((await iol.call('POST', '/channels', { ...channel, routes: [{ ...channel.routes[0], host: '127.0.0.1', port: Number(new URL(tx.base).port) }] })).status, 201);
    }
    assert.equal((await iol.call('POST', '/clients', { ...importer.Clients[0], clientID: 'txx-client', password: 'txx-client-secret-1' })).status, 201);
    assert.equal((await iol.call('POST', '/clients', { clientID: 'txx-admin', name: 'Terminology admin', roles: ['terminology-admin'], password: 'txx-admin-secret-1' })).status, 201);
    auth = { authorization: basic('txx-client', 'txx-client-secret-1') };
    admin = { authorization: basic('txx-admin', 'txx-admin-secret-1') };
  });
  after(async () => {
    await iol.stop();
    await tx.close();
  });

  test('a CodeSystem, ValueSet and ConceptMap written in XML (through the router) are found in XML: ITI-96, ITI-95, ITI-100', async () => {
    for (const resource of [findings, valueSets[1]!, localToFindings]) {
      const reply = await requestXml(`${iol.router}/terminology/fhir/${resource.resourceType}`, 'POST', resourceToXml(resource as Record<string, unknown>), admin);
      assert.equal(reply.status, 201, reply.text);
      assert.ok(isFhirXml(reply));
      assert.equal(reply.body.url, resource.url);
    }
    for (const [where, base, headers] of bases()) {
      const search = await requestXml(`${base}/CodeSystem?url=${q(FINDINGS)}`, 'GET', undefined, headers);
      assert.equal(search.status, 200, `${where}: ${search.text}`);
      assert.ok(isFhirXml(search));
      assert.equal(search.body.entry[0].resource.concept[0].concept[0].designation[0].value, 'Maladie cardiaque');
      const vs = await requestXml(`${base}/ValueSet?url=${q('http://example.org/vs/heart')}&_format=xml`, 'GET', undefined, { ...headers, accept: '' });
      assert.ok(isFhirXml(vs) && (vs.body.entry?.length ?? 0) === 1, `${where}: ${vs.text}`);
      const maps = await requestXml(`${base}/ConceptMap?url=${q(localToFindings.url)}`, 'GET', undefined, headers);
      assert.ok(isFhirXml(maps) && maps.body.entry[0].resource.group[0].element[0].target[0].equivalence === 'equivalent', `${where}: ${maps.text}`);
      const cm = await requestXml(`${base}/ConceptMap/${maps.body.entry[0].resource.id}`, 'GET', undefined, headers);
      assert.ok(isFhirXml(cm) && cm.body.url === localToFindings.url, `${where}: ${cm.text}`);
      const none = await requestXml(`${base}/ConceptMap/${search.body.entry[0].resource.id}`, 'GET', undefined, headers);
      assert.equal(none.status, 404, 'a CodeSystem id is no ConceptMap');
      assert.ok(isFhirXml(none) && none.body.resourceType === 'OperationOutcome');
    }
  });

  test('$lookup (ITI-98) answers Parameters in XML with property and designation parts', async () => {
    for (const [where, base, headers] of bases()) {
      const reply = await requestXml(`${base}/CodeSystem/$lookup?system=${q(FINDINGS)}&code=heart&property=parent&property=designation`, 'GET', undefined, headers);
      assert.equal(reply.status, 200, `${where}: ${reply.text}`);
      assert.ok(isFhirXml(reply));
      assert.match(reply.text, /<parameter><name value="display"\/><valueString value="Heart disease"\/><\/parameter>/);
      assert.match(reply.text, /<parameter><name value="designation"\/><part><name value="language"\/><valueCode value="fr"\/><\/part><part><name value="use"\/><valueCoding><system value="http:\/\/snomed\.info\/sct"\/><code value="900000000000013009"\/><\/valueCoding><\/part><part><name value="value"\/><valueString value="Maladie cardiaque"\/><\/part><\/parameter>/);
      assert.equal(part(params(reply.body, 'designation')[0], 'value'), 'Maladie cardiaque');
      const unknown = await requestXml(`${base}/CodeSystem/$lookup?system=${q(FINDINGS)}&code=nothing`, 'GET', undefined, headers);
      assert.equal(unknown.status, 404, `${where}: ${unknown.text}`);
      assert.ok(isFhirXml(unknown) && unknown.body.resourceType === 'OperationOutcome');
    }
  });

  test('$validate-code (ITI-99) and $subsumes by GET and with a Parameters XML body', async () => {
    for (const [where, base, headers] of bases()) {
      const posted = await requestXml(`${base}/ValueSet/$validate-code`, 'POST', VALIDATE_XML, headers);
      assert.equal(posted.status, 200, `${where}: ${posted.text}`);
      assert.ok(isFhirXml(posted));
      assert.match(posted.text, /<parameter><name value="result"\/><valueBoolean value="true"\/><\/parameter>/);
      const subsumes = await requestXml(`${base}/CodeSystem/$subsumes?system=${q(FINDINGS)}&codeA=heart&codeB=tachy&_format=xml`, 'GET', undefined, { ...headers, accept: '' });
      assert.ok(isFhirXml(subsumes), `${where}: ${subsumes.text}`);
      assert.match(subsumes.text, /<parameter><name value="outcome"\/><valueCode value="subsumes"\/><\/parameter>/);
      const noCode = await requestXml(`${base}/ValueSet/$validate-code`, 'POST', '<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="url"/><valueUri value="http://example.org/vs/heart"/></parameter></Parameters>', headers);
      assert.equal(noCode.status, 400, `${where}: ${noCode.text}`);
      assert.ok(isFhirXml(noCode) && noCode.body.resourceType === 'OperationOutcome');
    }
  });

  test('$translate (ITI-101) with a Parameters XML body: match parts with valueCoding in XML', async () => {
    for (const [where, base, headers] of bases()) {
      const reply = await requestXml(`${base}/ConceptMap/$translate`, 'POST', TRANSLATE_XML, headers);
      assert.equal(reply.status, 200, `${where}: ${reply.text}`);
      assert.ok(isFhirXml(reply));
      assert.match(reply.text, /<parameter><name value="result"\/><valueBoolean value="true"\/><\/parameter>/);
      const asJson = await fetch(`${base}/ConceptMap/$translate`, { method: 'POST', headers: { ...headers, 'content-type': 'application/fhir+xml', accept: 'application/fhir+json' }, body: TRANSLATE_XML });
      assert.deepEqual(reply.body, await asJson.json(), `${where}: the XML Parameters read back into the JSON ones`);
      assert.match(reply.text, /<parameter><name value="match"\/><part><name value="equivalence"\/><valueCode value="equivalent"\/><\/part><part><name value="concept"\/><valueCoding><system value="http:\/\/example\.org\/cs\/findings"\/><code value="tachy"\/>(<display value="Tachycardia"\/>)?<\/valueCoding><\/part>/);
    }
  });

  test('$expand (ITI-97) by GET and with a Parameters XML body: a ValueSet expansion in XML', async () => {
    for (const [where, base, headers] of bases()) {
      for (const reply of [
        await requestXml(`${base}/ValueSet/$expand?url=${q('http://example.org/vs/heart')}`, 'GET', undefined, headers),
        await requestXml(`${base}/ValueSet/$expand`, 'POST', EXPAND_XML, headers),
      ]) {
        assert.equal(reply.status, 200, `${where}: ${reply.text}`);
        assert.ok(isFhirXml(reply));
        assert.equal(reply.body.resourceType, 'ValueSet');
        assert.match(reply.text, /<expansion>.*<contains><system value="http:\/\/example\.org\/cs\/findings"\/>(<version value="1"\/>)?<code value="tachy"\/><display value="Tachycardia"\/><\/contains>/);
      }
      const unknown = await requestXml(`${base}/ValueSet/$expand?url=${q('http://example.org/vs/nothing')}`, 'GET', undefined, headers);
      assert.ok(unknown.status >= 400 && unknown.status < 500, `${where}: ${unknown.status}`);
      assert.ok(isFhirXml(unknown) && unknown.body.resourceType === 'OperationOutcome');
    }
  });
});
