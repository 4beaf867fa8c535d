/**
 * What keeping decimals' written form costs (src/common/json-decimals.ts), against JSON.parse and
 * JSON.stringify measured in the same run on the same texts: a Patient and an Observation with no
 * decimal to keep (the fast path nearly all resources take), an Observation with one (`80.0`), and
 * a large document of many.
 *
 *   npx tsc -p . && node dist/bench/fhir/decimals.js
 */
import { parseJsonKeepingDecimals, stringifyJsonKeepingDecimals } from '../../src/common/json-decimals.js';
import { perCall } from '../support/per-call.js';

const patient = JSON.stringify({
  resourceType: 'Patient', id: 'p1', meta: { versionId: '1', lastUpdated: '2026-12-02T02:39:51.351Z' },
  identifier: [{ system: 'urn:x', value: '123' }], name: [{ family: 'Moyo', given: ['Ann', 'B'] }], gender: 'female',
  birthDate: '1990-01-01', address: [{ line: ['1 Main'], city: 'X', postalCode: '1000' }], telecom: [{ system: 'phone', value: '+2551234' }],
});
const observation = JSON.stringify({
  resourceType: 'Observation', id: 'o1', meta: { versionId: '1', lastUpdated: '2026-12-02T02:39:51.350Z' }, status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] }, subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2026-01-01T10:00:00.000Z', valueQuantity: { value: 80.5, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
});
const keptObservation = observation.replace('"value":80.5', '"value":80.0');
const manyDecimals = `{"resourceType":"Bundle","type":"collection","entry":[${Array(2000).fill(`{"resource":${keptObservation}}`).join(',')}]}`;

console.log('| text | bytes | JSON.parse µs | keeping µs | ratio | JSON.stringify µs | keeping µs | ratio |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const [name, text] of [['Patient, nothing to keep', patient], ['Observation, nothing to keep', observation],
  ['Observation with 80.0', keptObservation], ['Bundle of 2,000 such', manyDecimals]] as const) {
  const budget = text.length > 100_000 ? 2000 : 500;
  const parsePlain = perCall(() => JSON.parse(text), budget);
  const parseKeeping = perCall(() => parseJsonKeepingDecimals(text), budget);
  const value = parseJsonKeepingDecimals(text);
  const plainValue = JSON.parse(text);
  const writePlain = perCall(() => JSON.stringify(plainValue), budget);
  const writeKeeping = perCall(() => stringifyJsonKeepingDecimals(value), budget);
  const f = (n: number): string => (n < 10 ? n.toFixed(2) : n.toFixed(0));
  console.log(`| ${name} | ${text.length} | ${f(parsePlain)} | ${f(parseKeeping)} | ${(parseKeeping / parsePlain).toFixed(2)} | ${f(writePlain)} | ${f(writeKeeping)} | ${(writeKeeping / writePlain).toFixed(2)} |`);
}
