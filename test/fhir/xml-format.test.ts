import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { resourceToXml, xmlToResource } from '../../src/fhir/format/xml.js';
import { FhirError } from '../../src/fhir/outcome.js';
import { parseJsonKeepingDecimals, stringifyJsonKeepingDecimals, withDecimalTextsOf } from '../../src/common/json-decimals.js';

const examplesDir = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));

/** The value as JSON text with its keys sorted and its decimals as written: equal texts, equal content. */
function canonical(value: unknown): string {
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return withDecimalTextsOf(v.map(sorted), v);
    if (!v || typeof v !== 'object') return v;
    const out: Record<string, unknown> = withDecimalTextsOf({}, v);
    for (const key of Object.keys(v).sort()) out[key] = sorted((v as Record<string, unknown>)[key]);
    return out;
  };
  return stringifyJsonKeepingDecimals(sorted(value));
}

test('every official R4 example (up to 256 KB) survives JSON -> XML -> JSON unchanged, decimals as written', () => {
  const files = readdirSync(examplesDir).filter((f) => f.endsWith('.json') && f !== 'package.json' && statSync(`${examplesDir}/${f}`).size <= 256 * 1024);
  const differing: string[] = [];
  let checked = 0;
  for (const file of files) {
    const json = parseJsonKeepingDecimals(readFileSync(`${examplesDir}/${file}`, 'utf8')) as Record<string, unknown>;
    if (typeof json.resourceType !== 'string') continue;
    checked++;
    try {
      const back = xmlToResource(resourceToXml(json));
      assert.equal(canonical(back), canonical(json));
    } catch (error) {
      differing.push(`${file}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  assert.ok(checked > 5000, `only ${checked} examples found`);
  assert.deepEqual(differing.slice(0, 10), []);
});

const SPEC_STYLE = `<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment before the root -->
<Patient xmlns="http://hl7.org/fhir">
  <id value="xml-1"/>
  <text>
    <status value="generated"/>
    <div xmlns="http://www.w3.org/1999/xhtml"><p>Peter <b>Chalmers</b> &amp; family<br/></p></div>
  </text>
  <contained>
    <Organization>
      <id value="org1"/>
      <name value="Clinic &lt;North&gt;"/>
    </Organization>
  </contained>
  <extension url="http://example.org/birth-order">
    <valueInteger value="2"/>
  </extension>
  <active value="true"/>
  <name id="n1">
    <use value="official"/>
    <family value="Chalmers"/>
    <given value="Peter"/>
    <given>
      <extension url="http://example.org/data-absent">
        <valueCode value="masked"/>
      </extension>
    </given>
    <given id="g3" value="James"/>
  </name>
  <birthDate value="1974-12-25">
    <extension url="http://hl7.org/fhir/StructureDefinition/patient-birthTime">
      <valueDateTime value="1974-12-25T14:35:45-05:00"/>
    </extension>
  </birthDate>
  <multipleBirthInteger value="2"/>
  <managingOrganization>
    <reference value="#org1"/>
  </managingOrganization>
</Patient>`;

test('FHIR XML as the specification writes it reads into the JSON the specification gives', () => {
  const patient = xmlToResource(SPEC_STYLE);
  assert.deepEqual(patient, {
    resourceType: 'Patient',
    id: 'xml-1',
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>Peter <b>Chalmers</b> &amp; family<br/></p></div>' },
    contained: [{ resourceType: 'Organization', id: 'org1', name: 'Clinic <North>' }],
    extension: [{ url: 'http://example.org/birth-order', valueInteger: 2 }],
    active: true,
    name: [{
      id: 'n1',
      use: 'official',
      family: 'Chalmers',
      given: ['Peter', null, 'James'],
      _given: [null, { extension: [{ url: 'http://example.org/data-absent', valueCode: 'masked' }] }, { id: 'g3' }],
    }],
    birthDate: '1974-12-25',
    _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1974-12-25T14:35:45-05:00' }] },
    multipleBirthInteger: 2,
    managingOrganization: { reference: '#org1' },
  });
  // And back: elements in the order the specification defines, whatever the JSON key order.
  const xml = resourceToXml({ ...patient, active: true, id: 'xml-1' });
  assert.ok(xml.indexOf('<id value="xml-1"/>') < xml.indexOf('<text>'));
  assert.ok(xml.indexOf('<extension url="http://example.org/birth-order">') < xml.indexOf('<active value="true"/>'));
  assert.match(xml, /<given value="Peter"\/><given><extension url="http:\/\/example.org\/data-absent"><valueCode value="masked"\/><\/extension><\/given><given id="g3" value="James"\/>/);
});

test('values with markup, quotes and line breaks are escaped and come back intact', () => {
  const resource = { resourceType: 'Observation', status: 'final', code: { text: 'a "quoted" <tag> & more\nline two\ttab' } };
  assert.deepEqual(xmlToResource(resourceToXml(resource)), resource);
});

test('a narrative that is not XML is written as escaped text, so the document stays well-formed', () => {
  const xml = resourceToXml({ resourceType: 'Patient', text: { status: 'generated', div: '<div>unclosed <b>bold</div>' } });
  const back = xmlToResource(xml) as { text: { div: string } };
  assert.match(back.text.div, /&lt;div&gt;unclosed/);
});

function refused(xml: string, pattern: RegExp): void {
  assert.throws(() => xmlToResource(xml), (error: unknown) => error instanceof FhirError && error.status === 400 && pattern.test(error.message));
}

test('hostile or malformed XML is a 400 that says why', () => {
  refused('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><Patient xmlns="http://hl7.org/fhir"><id value="&lol2;"/></Patient>', /DTD/);
  refused('<Patient xmlns="http://hl7.org/fhir"><id value="x"/>', /well-formed/);
  refused('<Patient><id value="x"/></Patient>', /namespace/);
  refused('<Patient xmlns="http://hl7.org/fhir"><nickname value="x"/></Patient>', /unknown element <nickname> in Patient/);
  refused('<Patient xmlns="http://hl7.org/fhir"><active value="yes"/></Patient>', /Patient.active: "yes" is not a boolean/);
  refused('<Patient xmlns="http://hl7.org/fhir"><active>true</active></Patient>', /text content/);
  // R4 datatypes.html: an integer is xs:int "except that leading 0 digits are not allowed" (010 is not one; JSON cannot say it either).
  refused('<Patient xmlns="http://hl7.org/fhir"><multipleBirthInteger value="010"/></Patient>', /Patient.multipleBirthInteger: "010" is not an integer/);
  refused('<Patient xmlns="http://hl7.org/fhir"><multipleBirthInteger value="-01"/></Patient>', /"-01" is not an integer/);
  refused('<Patient xmlns="http://hl7.org/fhir"><active value="true" onload="x"/></Patient>', /attribute "onload"/);
  refused('<Patient xmlns="http://hl7.org/fhir"><gender value="male"/><gender value="female"/></Patient>', /more than once/);
  refused('<constructor xmlns="http://hl7.org/fhir"/>', /unknown resource type/);
  refused('<Patient xmlns="http://hl7.org/fhir"><__proto__ value="x"/></Patient>', /unknown element/);
  refused('<Patient xmlns="http://hl7.org/fhir"/><Patient xmlns="http://hl7.org/fhir"/>', /exactly one|well-formed/);
  refused(`<Patient xmlns="http://hl7.org/fhir">${'<extension url="x">'.repeat(200)}${'</extension>'.repeat(200)}</Patient>`, /nested deeper/);
  // Inside the narrative as well (each element's namespace is looked up through the open ones).
  refused(`<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml">${'<b>'.repeat(200)}${'</b>'.repeat(200)}</div></text></Patient>`, /nested deeper/);
  refused('<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div><p>x</p></div></text></Patient>', /XHTML namespace/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

// Namespaces in XML 1.0 (§5-6): an element's name is its namespace URI and local name; the prefix
// is only the document's shorthand, bound by xmlns:p (or xmlns for the default) on the element or
// an ancestor, nearest declaration winning. FHIR R4 xml.html: "FHIR elements are always in the
// namespace http://hl7.org/fhir. This is usually specified as the default namespace on the root
// element" (usually, so a prefix is as good), and the narrative is an XHTML div.
const PREFIXED_PATIENT = `<f:Patient xmlns:f="http://hl7.org/fhir">
  <f:text>
    <f:status value="generated"/>
    <xhtml:div xmlns:xhtml="http://www.w3.org/1999/xhtml"><xhtml:p>Ada <xhtml:b title="a &amp; b">Okafor</xhtml:b></xhtml:p></xhtml:div>
  </f:text>
  <f:name><f:family value="Okafor"/></f:name>
  <gender xmlns="http://hl7.org/fhir" value="female"/>
</f:Patient>`;

test('FHIR elements are matched by namespace, whatever prefix the document binds to it', () => {
  const patient = xmlToResource(PREFIXED_PATIENT) as { name: unknown; gender: string; text: { div: string } };
  assert.deepEqual(patient.name, [{ family: 'Okafor' }]);
  assert.equal(patient.gender, 'female');
  // The narrative becomes the one spelling JSON readers expect: a default-namespace XHTML div.
  assert.equal(patient.text.div, '<div xmlns="http://www.w3.org/1999/xhtml"><p>Ada <b title="a &amp; b">Okafor</b></p></div>');
  // Another prefix for the same namespaces, and the XHTML one declared on the root, read the same.
  const h = `<fhir:Patient xmlns:fhir="http://hl7.org/fhir" xmlns:h="http://www.w3.org/1999/xhtml"><fhir:text><fhir:status value="generated"/>
    <h:div><h:p>Ada <h:b title="a &amp; b">Okafor</h:b></h:p></h:div></fhir:text><fhir:name><fhir:family value="Okafor"/></fhir:name>
    <fhir:gender value="female"/></fhir:Patient>`;
  assert.deepEqual(xmlToResource(h), patient);
  // The default namespace may be XHTML while FHIR has a prefix: unprefixed elements are then XHTML.
  const defaultXhtml = `<f:Patient xmlns:f="http://hl7.org/fhir" xmlns="http://www.w3.org/1999/xhtml"><f:text><f:status value="generated"/><div><p>x</p></div></f:text></f:Patient>`;
  assert.equal((xmlToResource(defaultXhtml) as { text: { div: string } }).text.div, '<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div>');
});

test('a nested declaration rebinds a prefix or the default namespace for that element and below', () => {
  const nested = `<Patient xmlns="http://hl7.org/fhir"><contained><f:Organization xmlns:f="http://hl7.org/fhir"><f:name value="Clinic"/></f:Organization></contained>
    <name xmlns:x="urn:other"><x:family xmlns:x="http://hl7.org/fhir" value="Okafor"/></name></Patient>`;
  assert.deepEqual(xmlToResource(nested), { resourceType: 'Patient', contained: [{ resourceType: 'Organization', name: 'Clinic' }], name: [{ family: 'Okafor' }] });
  // Inside the narrative, an element that rebinds the default namespace to XHTML stays XHTML.
  const div = xmlToResource('<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><h:div xmlns:h="http://www.w3.org/1999/xhtml"><p xmlns="http://www.w3.org/1999/xhtml">x</p></h:div></text></Patient>') as { text: { div: string } };
  assert.equal(div.text.div, '<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div>');
});

test('elements and attributes outside the FHIR namespace are still refused, whatever their prefix', () => {
  refused('<f:Patient xmlns:f="urn:not-fhir"/>', /FHIR namespace/);
  refused('<Patient xmlns="http://hl7.org/fhir"><gender xmlns="urn:other" value="male"/></Patient>', /<gender> in Patient is not in the FHIR namespace/);
  refused('<Patient xmlns="http://hl7.org/fhir" xmlns:o="urn:other"><o:gender value="male"/></Patient>', /<o:gender> in Patient is not in the FHIR namespace/);
  refused('<Patient xmlns="http://hl7.org/fhir"><contained><Organization xmlns="urn:other"/></contained></Patient>', /FHIR namespace/);
  // FHIR's attributes are unqualified (value, id, url): a value in a namespace is another attribute.
  refused('<f:Patient xmlns:f="http://hl7.org/fhir"><f:active f:value="true"/></f:Patient>', /attribute "f:value"/);
  refused('<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><h:div xmlns:h="urn:not-xhtml"><p>x</p></h:div></text></Patient>', /XHTML namespace/);
  refused('<Patient xmlns="http://hl7.org/fhir"><u:gender value="male"/></Patient>', /well-formed/); // unbound prefix
});

// XML Schema Part 1 §2.6.3: xsi:schemaLocation is a hint a processor may ignore; generated FHIR XML
// often carries it on the root. Nothing is fetched; other xsi attributes stay unknown.
test('xsi:schemaLocation on a resource is accepted and ignored; other unknown attributes are not', () => {
  const xml = `<Patient xmlns="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://hl7.org/fhir ../../schema/patient.xsd"><active value="true"/></Patient>`;
  assert.deepEqual(xmlToResource(xml), { resourceType: 'Patient', active: true });
  const bound = xml.replaceAll('xsi:', 'i:').replace('xmlns:xsi', 'xmlns:i');
  assert.deepEqual(xmlToResource(bound), { resourceType: 'Patient', active: true });
  refused(xml.replace('xsi:schemaLocation', 'xsi:type'), /attribute "xsi:type"/);
  refused(xml.replace('xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"', 'xmlns:xsi="urn:other"'), /attribute "xsi:schemaLocation"/);
  refused('<Patient xmlns="http://hl7.org/fhir" schemaLocation="x"/>', /attribute "schemaLocation"/);
});

test('a narrative read from XML is written back as a default-namespace XHTML div', () => {
  const xml = resourceToXml(xmlToResource(PREFIXED_PATIENT));
  assert.match(xml, /<text><status value="generated"\/><div xmlns="http:\/\/www.w3.org\/1999\/xhtml"><p>Ada <b title="a &amp; b">Okafor<\/b><\/p><\/div><\/text>/);
  // A prefixed div stored through JSON is written in the same form, not as escaped text.
  const viaJson = resourceToXml({ resourceType: 'Patient', text: { status: 'generated', div: '<h:div xmlns:h="http://www.w3.org/1999/xhtml"><h:p>x</h:p></h:div>' } });
  assert.match(viaJson, /<div xmlns="http:\/\/www.w3.org\/1999\/xhtml"><p>x<\/p><\/div>/);
});

// xml.html: the div's content is XHTML; how it is spelled (&quot; or ") is the writer's choice, so
// a server that kept what was written gives back exactly what it was sent.
test('a narrative keeps its spelling through JSON -> XML -> JSON (R4 examples)', () => {
  const files = readdirSync(examplesDir).filter((f) => f.endsWith('.json') && f !== 'package.json' && statSync(`${examplesDir}/${f}`).size <= 256 * 1024);
  const differing: string[] = [];
  const divs = (value: unknown, out: string[] = []): string[] => {
    if (Array.isArray(value)) for (const v of value) divs(v, out);
    else if (value && typeof value === 'object') for (const [key, v] of Object.entries(value)) key === 'div' && typeof v === 'string' ? out.push(v) : divs(v, out);
    return out;
  };
  for (const file of files) {
    const json = JSON.parse(readFileSync(`${examplesDir}/${file}`, 'utf8')) as Record<string, unknown>;
    if (typeof json.resourceType !== 'string') continue;
    const before = divs(json);
    if (!before.length) continue;
    if (JSON.stringify(divs(xmlToResource(resourceToXml(json)))) !== JSON.stringify(before)) differing.push(file);
  }
  assert.deepEqual(differing.slice(0, 10), [], `${differing.length} examples changed their narrative`);
});
