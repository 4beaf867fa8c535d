import { randomBytes, randomInt } from 'node:crypto';

/**
 * A FHIR-like JSON body of about `size` bytes (a Bundle of Observations with random ids and
 * values), so that stored-body costs, compression included, are measured on realistic data
 * rather than on a run of one repeated byte.
 */
export function fhirLikeBody(size: number): Buffer {
  const entries: string[] = [];
  let length = 40;
  while (length < size) {
    const entry = JSON.stringify({
      fullUrl: `urn:uuid:${randomBytes(16).toString('hex')}`,
      resource: {
        resourceType: 'Observation',
        id: randomBytes(8).toString('hex'),
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: `${randomInt(1000, 99999)}-${randomInt(0, 9)}` }] },
        subject: { reference: `Patient/${randomBytes(6).toString('hex')}` },
        effectiveDateTime: new Date(Date.now() - randomInt(0, 1e10)).toISOString(),
        valueQuantity: { value: randomInt(0, 20000) / 100, unit: 'mmHg' },
      },
    });
    entries.push(entry);
    length += entry.length + 1;
  }
  const text = `{"resourceType":"Bundle","type":"collection","entry":[${entries.join(',')}]}`;
  return Buffer.from(text);
}
