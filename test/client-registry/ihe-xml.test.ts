/**
 * IHE Connectathon-style checks that the client registry's IHE transactions work in FHIR XML as
 * well as JSON (PIXm, PDQm and PMIR require servers to support both): XML request bodies taken,
 * answers in XML when asked by Accept or _format, errors as an XML OperationOutcome; directly and
 * through the interoperability layer's channel from the package. Pure format checks: PGlite only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basic, startIol, type Iol } from '../interop-layer/support.js';
import { isFhirXml, requestXml } from '../support/fhir-xml.js';
import { namingSystem, startRegistry, type RegistryUnderTest } from './support.js';

const importer = JSON.parse(readFileSync(new URL('../../../packages/client-registry/importer/openhim-config.json', import.meta.url), 'utf8'));
const SECRET = 'test-sender-identity-secret-ihe-xml-0123456789';
const CLINIC = 'urn:test:xml-clinic';
const CLINIC_B = 'urn:test:xml-clinic-b';
const q = encodeURIComponent;

function patientXml(mrn: string, family: string, given: string, system = CLINIC): string {
  return `<Patient xmlns="http://hl7.org/fhir"><identifier><system value="${system}"/><value value="${mrn}"/></identifier>` +
    `<name><family value="${family}"/><given value="${given}"/></name><gender value="male"/><birthDate value="1975-05-06"/></Patient>`;
}

function pmirFeedXml(mrn: string): { id: string; xml: string } {
  const id = randomUUID();
  const history = `urn:uuid:${randomUUID()}`;
  const xml = `<?xml version="1.0" encoding="UTF-8"?><Bundle xmlns="http://hl7.org/fhir"><type value="message"/><timestamp value="${new Date().toISOString()}"/>` +
    `<entry><fullUrl value="urn:uuid:${id}"/><resource><MessageHeader><id value="${id}"/><eventUri value="urn:ihe:iti:pmir:2019:patient-feed"/>` +
    `<source><endpoint value="http://clinic.example.org/fhir"/></source><focus><reference value="${history}"/></focus></MessageHeader></resource></entry>` +
    `<entry><fullUrl value="${history}"/><resource><Bundle><type value="history"/><entry><fullUrl value="urn:uuid:${randomUUID()}"/><resource>` +
    patientXml(mrn, 'Phiri', 'Kondwani').replace(' xmlns="http://hl7.org/fhir"', '') +
    `</resource><request><method value="POST"/><url value="Patient"/></request></entry></Bundle></resource></entry></Bundle>`;
  return { id, xml };
}

const MATCH_XML = `<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="resource"/><resource>` +
  `<Patient><name><family value="Tembo"/><given value="Alinafe"/></name><gender value="male"/><birthDate value="1975-05-06"/></Patient>` +
  `</resource></parameter><parameter><name value="onlyCertainMatches"/><valueBoolean value="false"/></parameter></Parameters>`;

describe('client registry: IHE transactions in FHIR XML (PGlite)', () => {
  let cr: RegistryUnderTest;
  let iol: Iol;
  let auth: Record<string, string>;
  let first: string;

  before(async () => {
    cr = await startRegistry('pglite', { OPENHIM_SENDER_IDENTITY_SECRET: SECRET });
    iol = await startIol('pglite', { OPENHIM_SENDER_IDENTITY_SECRET: SECRET });
    const channel = { ...importer.Channels[0], routes: [{ ...importer.Channels[0].routes[0], host: '127.0.0.1', port: Number(new URL(cr.base).port) }] };
    assert.equal((await iol.call('POST', '/channels', channel)).status, 201);
    assert.equal((await iol.call('POST', '/clients', { ...importer.Clients[0], clientID: 'xml-client', password: 'xml-client-secret-1' })).status, 201);
    auth = { authorization: basic('xml-client', 'xml-client-secret-1') };
    // Registered domains: an unknown targetSystem is then 403 (ITI-83 Case 4).
    for (const [name, url] of [['XmlClinic', CLINIC], ['XmlClinicB', CLINIC_B]]) assert.equal((await cr.request('POST', 'NamingSystem', namingSystem(name!, url!))).status, 201);
  });
  after(async () => {
    await iol.stop();
    await cr.close();
  });

  const bases = () => [['direct', cr.base, {}], ['router', `${iol.router}/clientregistry/fhir`, auth]] as Array<[string, string, Record<string, string>]>;

  test('a Patient sent in XML is registered and answered in XML (ITI-93 needs the same of a feed)', async () => {
    const created = await requestXml(`${cr.base}/Patient`, 'POST', patientXml('X-1', 'Tembo', 'Alinafe'));
    assert.equal(created.status, 201, created.text);
    assert.ok(isFhirXml(created), created.text.slice(0, 200));
    assert.equal(created.body.resourceType, 'Patient');
    first = created.body.id;
    const routed = await requestXml(`${iol.router}/clientregistry/fhir/Patient`, 'POST', patientXml('X-2', 'Tembo', 'Alinafe', CLINIC_B), auth);
    assert.equal(routed.status, 201, routed.text);
    assert.ok(isFhirXml(routed));
  });

  test('PIXm ITI-83 answers Parameters in XML: valueIdentifier and valueReference (Accept and _format)', async () => {
    for (const [where, base, headers] of bases()) {
      for (const [how, suffix, extra] of [['Accept', '', {}], ['_format', '&_format=xml', { accept: '' }], ['_format media type, + unescaped', '&_format=application/fhir+xml', { accept: '' }]] as Array<[string, string, Record<string, string>]>) {
        const reply = await requestXml(`${base}/Patient/$ihe-pix?sourceIdentifier=${q(`${CLINIC}|X-1`)}${suffix}`, 'GET', undefined, { ...headers, ...extra });
        assert.equal(reply.status, 200, `${where} ${how}: ${reply.text}`);
        assert.ok(isFhirXml(reply), `${where} ${how}: ${reply.contentType}`);
        assert.match(reply.text, /<parameter><name value="targetIdentifier"\/><valueIdentifier><system value="urn:test:xml-clinic-b"\/><value value="X-2"\/><\/valueIdentifier><\/parameter>/);
        assert.match(reply.text, /<parameter><name value="targetId"\/><valueReference><reference value="[^"]+\/Patient\/[^"]+"\/><\/valueReference><\/parameter>/);
      }
    }
  });

  test('PIXm errors are an OperationOutcome in XML when XML was asked: 404 unknown source, 403 unknown target domain, 400 no source', async () => {
    for (const [where, base, headers] of bases()) {
      const unknown = await requestXml(`${base}/Patient/$ihe-pix?sourceIdentifier=${q(`${CLINIC}|NOBODY`)}`, 'GET', undefined, headers);
      assert.equal(unknown.status, 404, `${where}: ${unknown.text}`);
      assert.ok(isFhirXml(unknown) && unknown.body.resourceType === 'OperationOutcome', `${where}: ${unknown.text}`);
      const target = await requestXml(`${base}/Patient/$ihe-pix?sourceIdentifier=${q(`${CLINIC}|X-1`)}&targetSystem=${q('urn:test:nowhere')}&_format=xml`, 'GET', undefined, { ...headers, accept: '' });
      assert.equal(target.status, 403, `${where}: ${target.text}`);
      assert.ok(isFhirXml(target) && target.body.resourceType === 'OperationOutcome');
      const none = await requestXml(`${base}/Patient/$ihe-pix`, 'GET', undefined, headers);
      assert.equal(none.status, 400, `${where}: ${none.text}`);
      assert.ok(isFhirXml(none) && none.body.resourceType === 'OperationOutcome');
    }
  });

  test('PDQm ITI-78: a searchset Bundle in XML by GET and by POST _search; reads in XML', async () => {
    for (const [where, base, headers] of bases()) {
      const search = await requestXml(`${base}/Patient?family=Tembo&given=Alinafe&birthdate=1975-05-06&_count=5`, 'GET', undefined, headers);
      assert.equal(search.status, 200, `${where}: ${search.text}`);
      assert.ok(isFhirXml(search));
      assert.equal(search.body.type, 'searchset');
      assert.ok((search.body.entry?.length ?? 0) >= 2, search.text);
      assert.match(search.text, /<search><mode value="match"\/><\/search>/);
      // The XML answer reads back into exactly the JSON answer (a searchset round-trips).
      const asJson = await fetch(`${base}/Patient?family=Tembo&given=Alinafe&birthdate=1975-05-06&_count=5`, { headers: { ...headers, accept: 'application/fhir+json' } });
      assert.deepEqual(search.body, await asJson.json(), `${where}: XML and JSON searchsets differ`);
      const posted = await fetch(`${base}/Patient/_search`, { method: 'POST', headers: { ...headers, accept: 'application/fhir+xml', 'content-type': 'application/x-www-form-urlencoded' }, body: 'family=Tembo' });
      assert.equal(posted.status, 200);
      assert.match(posted.headers.get('content-type') ?? '', /^application\/fhir\+xml/);
      assert.match(await posted.text(), /<Bundle xmlns="http:\/\/hl7\.org\/fhir">/);
      const read = await requestXml(`${base}/Patient/${first}?_format=application/fhir%2Bxml`, 'GET', undefined, { ...headers, accept: '' });
      assert.equal(read.status, 200);
      assert.ok(isFhirXml(read));
      assert.equal(read.body.id, first);
    }
  });

  test('PDQm $match ITI-119 takes a Parameters XML body and answers a searchset with match grades in XML', async () => {
    for (const [where, base, headers] of bases()) {
      const reply = await requestXml(`${base}/Patient/$match`, 'POST', MATCH_XML, headers);
      assert.equal(reply.status, 200, `${where}: ${reply.text}`);
      assert.ok(isFhirXml(reply));
      assert.equal(reply.body.type, 'searchset');
      assert.ok((reply.body.entry?.length ?? 0) >= 2, reply.text);
      assert.match(reply.text, /<search><extension url="http:\/\/hl7\.org\/fhir\/StructureDefinition\/match-grade"><valueCode value="[a-z-]+"\/><\/extension><mode value="match"\/><score value="[0-9.]+"\/><\/search>/);
      const bad = await requestXml(`${base}/Patient/$match`, 'POST', '<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="count"/><valueInteger value="2"/></parameter></Parameters>', headers);
      assert.equal(bad.status, 400, `${where}: ${bad.text}`);
      assert.ok(isFhirXml(bad) && bad.body.resourceType === 'OperationOutcome', `${where}: ${bad.text}`);
    }
  });

  test('PMIR ITI-93: a message Bundle in XML POSTed to the base is applied and answered by a response message in XML', async () => {
    for (const [where, base, headers] of bases()) {
      const { id, xml } = pmirFeedXml(`PMIR-${where}`);
      const reply = await requestXml(base, 'POST', xml, headers);
      assert.equal(reply.status, 200, `${where}: ${reply.text}`);
      assert.ok(isFhirXml(reply));
      assert.equal(reply.body.type, 'message');
      assert.deepEqual(reply.body.entry[0].resource.response, { identifier: id, code: 'ok' });
      assert.match(reply.text, /<response><identifier value="[^"]+"\/><code value="ok"\/><\/response>/);
      // The record the feed made reads the same in XML as in JSON.
      const focus = (reply.body.entry ?? []).find((e: { fullUrl: string }) => e.fullUrl === reply.body.entry[0].resource.focus[0].reference).resource;
      const location = focus.entry[0].response.location as string;
      const record = /Patient\/[^/]+/.exec(location)![0];
      const [xmlRecord, jsonRecord] = await Promise.all([requestXml(`${base}/${record}`, 'GET', undefined, headers), fetch(`${base}/${record}`, { headers })]);
      assert.deepEqual(xmlRecord.body, await jsonRecord.json());
      const search = await requestXml(`${base}/Patient?identifier=${q(`${CLINIC}|PMIR-${where}`)}`, 'GET', undefined, headers);
      assert.equal((search.body.entry?.length ?? 0), 1, `${where}: the feed's Patient is registered`);
    }
  });

  test('PIXm ITI-104 resolve duplicate in XML: a conditional PUT with a replaced-by link by identifier merges the records', async () => {
    for (const [where, base, headers] of bases()) {
      const survivor = await requestXml(`${base}/Patient?identifier=${q(`${CLINIC}|RD-${where}-1`)}`, 'PUT', patientXml(`RD-${where}-1`, 'Mohr', 'Alice'), headers);
      assert.equal(survivor.status, 201, `${where}: ${survivor.text}`);
      const duplicate = patientXml(`RD-${where}-2`, 'Mohr', 'Maiden');
      assert.equal((await requestXml(`${base}/Patient?identifier=${q(`${CLINIC}|RD-${where}-2`)}`, 'PUT', duplicate, headers)).status, 201);
      const resolved = duplicate.replace('</identifier>', '</identifier><active value="false"/>').replace('</Patient>',
        `<link><other><identifier><system value="${CLINIC}"/><value value="RD-${where}-1"/></identifier></other><type value="replaced-by"/></link></Patient>`);
      const reply = await requestXml(`${base}/Patient?identifier=${q(`${CLINIC}|RD-${where}-2`)}`, 'PUT', resolved, headers);
      assert.equal(reply.status, 200, `${where}: ${reply.text}`);
      assert.ok(isFhirXml(reply));
      assert.equal(reply.body.active, false);
      assert.match(reply.text, new RegExp(`<link><other><reference value="Patient/${survivor.body.id}"/><identifier><system value="${CLINIC}"/><value value="RD-${where}-1"/></identifier></other><type value="replaced-by"/></link>`));
    }
  });

  test('bad XML and refused requests are an OperationOutcome in XML', async () => {
    for (const [where, base, headers] of bases()) {
      const broken = await requestXml(`${base}/Patient`, 'POST', '<Patient xmlns="http://hl7.org/fhir"><name>', headers);
      assert.equal(broken.status, 400, `${where}: ${broken.text}`);
      assert.ok(isFhirXml(broken) && broken.body.resourceType === 'OperationOutcome');
      const invalid = await requestXml(`${base}/Patient`, 'POST', '<Patient xmlns="http://hl7.org/fhir"><identifier><value value="no-system"/></identifier></Patient>', headers);
      assert.ok(invalid.status >= 400 && invalid.status < 500, `${where}: ${invalid.status}`);
      assert.ok(isFhirXml(invalid) && invalid.body.resourceType === 'OperationOutcome', `${where}: ${invalid.text}`);
    }
  });

  test('a path with a bad percent-escape and an unknown _format are OperationOutcomes in the format asked for', async () => {
    const badUrl = await requestXml(`${cr.base}/Patient/%ZZ`, 'GET');
    assert.equal(badUrl.status, 400, badUrl.text);
    assert.ok(isFhirXml(badUrl) && badUrl.body.resourceType === 'OperationOutcome', badUrl.text);
    const badUrlJson = await fetch(`${cr.base}/Patient/%ZZ`);
    assert.equal(badUrlJson.status, 400);
    assert.equal(((await badUrlJson.json()) as { resourceType: string }).resourceType, 'OperationOutcome');
    // _format overrides Accept; when it names no format this server speaks, the Accept type still tells how to answer.
    const badFormat = await requestXml(`${cr.base}/Patient?_format=foo`, 'GET');
    assert.equal(badFormat.status, 406, badFormat.text);
    assert.ok(isFhirXml(badFormat) && badFormat.body.resourceType === 'OperationOutcome', badFormat.text);
    // ITI-78 3.78.4.4.2: a read's unsupported _format is 400; still written in XML for an XML client.
    const badReadFormat = await requestXml(`${cr.base}/Patient/${first}?_format=${q('text/plain')}`, 'GET');
    assert.equal(badReadFormat.status, 400, badReadFormat.text);
    assert.ok(isFhirXml(badReadFormat) && badReadFormat.body.resourceType === 'OperationOutcome', badReadFormat.text);
  });

  test('a refused sender identity is an OperationOutcome in the format asked for', async () => {
    const forged = await requestXml(`${cr.base}/Patient?family=Tembo`, 'GET', undefined, { 'x-openhim-clientid': 'someone', 'x-instant-sender-timestamp': String(Date.now()), 'x-instant-sender-nonce': 'n', 'x-instant-sender-signature': 'forged' });
    assert.equal(forged.status, 401, forged.text);
    assert.ok(isFhirXml(forged) && forged.body.resourceType === 'OperationOutcome', forged.text);
  });
});
