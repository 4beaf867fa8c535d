/**
 * IHE Connectathon-style checks that mCSD ITI-90 (searches, _include, _revinclude, near) and
 * ITI-91 (_history) work in FHIR XML as well as JSON, directly and through the package's channel:
 * a directory loaded by an XML transaction, searchset and history Bundles in XML, XML
 * OperationOutcomes for refused searches. Pure format checks: PGlite only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resourceToXml } from '../../src/fhir/format/xml.js';
import { isFhirXml, requestXml } from '../support/fhir-xml.js';
import { CENTRE, kestriaDirectory, startThroughRouter, type RoutedCareServices } from './support.js';

describe('care services: mCSD ITI-90 and ITI-91 in FHIR XML (PGlite)', () => {
  let routed: RoutedCareServices;
  let since: string;
  const bases = () => [['direct', routed.cs.direct, {}], ['router', routed.base, routed.auth]] as Array<[string, string, Record<string, string>]>;

  before(async () => {
    routed = await startThroughRouter('pglite');
    since = new Date(Date.now() - 1000).toISOString();
  });
  after(async () => {
    await routed.close();
  });

  test('a directory sent as an XML transaction Bundle is answered by a transaction-response in XML', async () => {
    const reply = await requestXml(routed.base, 'POST', resourceToXml(kestriaDirectory()), routed.auth);
    assert.equal(reply.status, 200, reply.text.slice(0, 500));
    assert.ok(isFhirXml(reply));
    assert.equal(reply.body.type, 'transaction-response');
    assert.match(reply.text, /<response><status value="201 Created"\/>/);
    const location = await requestXml(`${routed.cs.direct}/Location`, 'POST',
      '<Location xmlns="http://hl7.org/fhir"><status value="active"/><name value="XML Post"/><position><longitude value="33.7741"/><latitude value="-13.9626"/></position></Location>');
    assert.equal(location.status, 201, location.text);
    assert.equal(location.body.position.latitude, -13.9626);
  });

  test('ITI-90 searches with _include and _revinclude are searchset Bundles in XML (match and include entries)', async () => {
    for (const [where, base, headers] of bases()) {
      const reply = await requestXml(`${base}/Organization?_id=org-fac-1&_include=Organization:endpoint&_revinclude=Location:organization`, 'GET', undefined, headers);
      assert.equal(reply.status, 200, `${where}: ${reply.text}`);
      assert.ok(isFhirXml(reply));
      assert.equal(reply.body.type, 'searchset');
      const modes = (reply.body.entry ?? []).map((e: { resource: { resourceType: string }; search: { mode: string } }) => `${e.resource.resourceType}:${e.search.mode}`).sort();
      assert.deepEqual(modes, ['Endpoint:include', 'Location:include', 'Organization:match']);
      assert.match(reply.text, /<total value="1"\/>/);
      const asJson = await fetch(`${base}/Organization?_id=org-fac-1&_include=Organization:endpoint&_revinclude=Location:organization`, { headers: { ...headers, accept: 'application/fhir+json' } });
      assert.deepEqual(reply.body, await asJson.json(), `${where}: the XML searchset reads back into the JSON one`);
      const formatted = await requestXml(`${base}/Location?partof:below=loc-region-n&_format=xml`, 'GET', undefined, { ...headers, accept: '' });
      assert.ok(isFhirXml(formatted), `${where}: _format=xml`);
      assert.ok((formatted.body.entry?.length ?? 0) >= 4);
    }
  });

  test('ITI-90 near: the Location Distance Option in XML, distances on the entries; a bad near is an XML OperationOutcome', async () => {
    for (const [where, base, headers] of bases()) {
      const reply = await requestXml(`${base}/Location?near=${CENTRE.lat}|${CENTRE.lon}|10|km`, 'GET', undefined, headers);
      assert.equal(reply.status, 200, `${where}: ${reply.text}`);
      assert.ok(isFhirXml(reply));
      assert.deepEqual((reply.body.entry ?? []).map((e: { resource: { id?: string; name: string } }) => e.resource.name).slice(0, 2).sort(), ['Ardenvale District Hospital', 'XML Post']);
      assert.match(reply.text, /<extension url="http:\/\/hl7\.org\/fhir\/StructureDefinition\/location-distance"><valueDistance>/);
      const bad = await requestXml(`${base}/Location?near=95|33|10|km`, 'GET', undefined, headers);
      assert.equal(bad.status, 400, `${where}: ${bad.text}`);
      assert.ok(isFhirXml(bad) && bad.body.resourceType === 'OperationOutcome', `${where}: ${bad.text}`);
    }
  });

  test('ITI-91 _history: history Bundles in XML, by type and for one resource, with request and response', async () => {
    for (const [where, base, headers] of bases()) {
      const history = await requestXml(`${base}/Location/_history?_since=${encodeURIComponent(since)}&_count=50`, 'GET', undefined, headers);
      assert.equal(history.status, 200, `${where}: ${history.text}`);
      assert.ok(isFhirXml(history));
      assert.equal(history.body.type, 'history');
      assert.ok((history.body.entry?.length ?? 0) >= 8);
      assert.match(history.text, /<request><method value="(PUT|POST)"\/><url value="Location(\/[^"]+)?"\/><\/request><response><status value="20[01][^"]*"\/>/);
      const one = await requestXml(`${base}/Location/loc-fac-1/_history?_format=application/fhir%2Bxml`, 'GET', undefined, { ...headers, accept: '' });
      assert.equal(one.status, 200);
      assert.ok(isFhirXml(one));
      assert.equal(one.body.entry[0].resource.id, 'loc-fac-1');
      // Paging keeps the format: the next link carries _format, so a client that asked once gets XML on every page.
      const page = await requestXml(`${base}/Location/_history?_count=3&_format=xml`, 'GET', undefined, { ...headers, accept: '' });
      const next = page.body.link.find((l: { relation: string }) => l.relation === 'next').url as string;
      const nextPage = await requestXml(next, 'GET', undefined, { ...headers, accept: '' });
      assert.equal(nextPage.status, 200, `${where}: ${next}`);
      assert.ok(isFhirXml(nextPage) && nextPage.body.type === 'history', `${where}: ${nextPage.text.slice(0, 200)}`);
      const badSince = await requestXml(`${base}/Location/_history?_since=yesterday`, 'GET', undefined, headers);
      assert.equal(badSince.status, 400, `${where}: ${badSince.text}`);
      assert.ok(isFhirXml(badSince) && badSince.body.resourceType === 'OperationOutcome');
    }
  });

  test('ITI-90 2:3.90.4.4.2: a read in a format the Directory cannot produce is 400 (a search stays 406)', async () => {
    for (const [where, base, headers] of bases()) {
      for (const path of ['Location/loc-fac-1', 'Location/loc-fac-1/_history/1']) {
        const read = await requestXml(`${base}/${path}?_format=${encodeURIComponent('text/turtle')}`, 'GET', undefined, headers);
        assert.equal(read.status, 400, `${where} ${path}: ${read.text}`);
        assert.ok(isFhirXml(read) && read.body.resourceType === 'OperationOutcome', `${where}: ${read.text}`);
      }
      const search = await requestXml(`${base}/Location?_format=${encodeURIComponent('text/turtle')}`, 'GET', undefined, headers);
      assert.equal(search.status, 406, `${where}: ${search.text}`);
    }
  });
});
