import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { normaliseXhtml, resourceToXml, xmlToResource } from '../../src/fhir/format/xml.js';
import { FhirError } from '../../src/fhir/outcome.js';

const examplesDir = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));

/** Narratives compare in one canonical form: XML allows several spellings of the same XHTML. */
function withCanonicalNarratives(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withCanonicalNarratives);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, key === 'div' && typeof v === 'string' ? normaliseXhtml(v) : withCanonicalNarratives(v)]));
}

test('every official R4 example (up to 256 KB) survives JSON -> XML -> JSON unchanged', () => {
  const files = readdirSync(examplesDir).filter((f) => f.endsWith('.json') && f !== 'package.json' && statSync(`${examplesDir}/${f}`).size <= 256 * 1024);
  const differing: string[] = [];
  let checked = 0;
  for (const file of files) {
    const json = JSON.parse(readFileSync(`${examplesDir}/${file}`, 'utf8')) as Record<string, unknown>;
    if (typeof json.resourceType !== 'string') continue;
    checked++;
    try {
      const back = xmlToResource(resourceToXml(json));
      assert.deepEqual(withCanonicalNarratives(back), withCanonicalNarratives(json));
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
  refused('<Patient xmlns="http://hl7.org/fhir"><active value="true" onload="x"/></Patient>', /attribute "onload"/);
  refused('<Patient xmlns="http://hl7.org/fhir"><gender value="male"/><gender value="female"/></Patient>', /more than once/);
  refused('<constructor xmlns="http://hl7.org/fhir"/>', /unknown resource type/);
  refused('<Patient xmlns="http://hl7.org/fhir"><__proto__ value="x"/></Patient>', /unknown element/);
  refused('<Patient xmlns="http://hl7.org/fhir"/><Patient xmlns="http://hl7.org/fhir"/>', /exactly one|well-formed/);
  refused(`<Patient xmlns="http://hl7.org/fhir">${'<extension url="x">'.repeat(200)}${'</extension>'.repeat(200)}</Patient>`, /nested deeper/);
  refused('<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div><p>x</p></div></text></Patient>', /XHTML namespace/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
