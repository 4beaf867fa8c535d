/**
 * Review findings 4 and 5 on both drivers: a Patient's name parts and its repeated elements the
 * registry matches on are bounded on write (422, HL7v2 AE naming the setting) and in $match (400),
 * before any matching or search runs, so one body cannot hold the event loop or the connection.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { ackOf, hl7, MllpClient } from './hl7v2-support.js';
import { CLINIC_A, namingSystem, patient, startRegistry, type RegistryUnderTest } from './support.js';

const MAX_NAME_PART = 40;
const MAX_REPEATS = 5;

for (const driver of testDrivers) {
  describe(`client registry: bounded Patients on ${driver}`, () => {
    let cr: RegistryUnderTest;
    let client: MllpClient;

    before(async () => {
      cr = await startRegistry(driver, { CLIENT_REGISTRY_MAX_NAME_PART_CHARS: String(MAX_NAME_PART), CLIENT_REGISTRY_MAX_REPEATS: String(MAX_REPEATS) });
      const domain = namingSystem('ClinicA', CLINIC_A) as { uniqueId: unknown[] };
      domain.uniqueId.push({ type: 'other', value: 'CLINIC_A' });
      assert.equal((await cr.request('POST', 'NamingSystem', domain)).status, 201);
      client = await MllpClient.connect(cr.running.endpoints.mllp!);
    });
    after(async () => {
      client?.close();
      await cr.close();
    });

    test('a name part longer than CLIENT_REGISTRY_MAX_NAME_PART_CHARS is refused 422 on create and update, nothing stored', async () => {
      const long = patient({ ids: [[CLINIC_A, 'LONG-1']], family: 'K'.repeat(MAX_NAME_PART + 1), given: 'Z', birthDate: '1970-01-01' });
      const refused = await cr.request('POST', 'Patient', long);
      assert.equal(refused.status, 422, JSON.stringify(refused.body));
      assert.match(refused.body.issue[0].diagnostics, /CLIENT_REGISTRY_MAX_NAME_PART_CHARS/);
      assert.match(refused.body.issue[0].diagnostics, /name\[0\]\.family/);
      assert.equal((await cr.request('GET', `Patient?identifier=${encodeURIComponent(`${CLINIC_A}|LONG-1`)}`)).body.entry?.length ?? 0, 0);
      const fine = await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_A, 'LONG-2']], family: 'K'.repeat(MAX_NAME_PART), given: 'Z', birthDate: '1970-01-01' }));
      assert.equal(fine.status, 201, JSON.stringify(fine.body));
      const grown = { ...fine.body, name: [{ family: 'K', given: ['Z'.repeat(MAX_NAME_PART + 1)] }] };
      assert.equal((await cr.request('PUT', `Patient/${fine.body.id}`, grown)).status, 422);
    });

    test('more identifiers, names, given names, telecoms or addresses than CLIENT_REGISTRY_MAX_REPEATS is refused 422', async () => {
      const many = (n: number) => Array.from({ length: n }, (_, i) => i);
      const base = patient({ ids: [[CLINIC_A, 'REP-0']], family: 'Phiri', given: 'Ada', birthDate: '1971-01-01' });
      const cases: Array<[string, Record<string, unknown>]> = [
        ['identifier', { identifier: many(MAX_REPEATS + 1).map((i) => ({ system: CLINIC_A, value: `REP-${i}` })) }],
        ['name', { name: many(MAX_REPEATS + 1).map((i) => ({ family: `Phiri${i}` })) }],
        ['name[0].given', { name: [{ family: 'Phiri', given: many(MAX_REPEATS + 1).map((i) => `Ada${i}`) }] }],
        ['telecom', { telecom: many(MAX_REPEATS + 1).map((i) => ({ system: 'phone', value: `0999${i}` })) }],
        ['address', { address: many(MAX_REPEATS + 1).map((i) => ({ city: `Zomba${i}` })) }],
      ];
      for (const [element, change] of cases) {
        const refused = await cr.request('POST', 'Patient', { ...base, ...change });
        assert.equal(refused.status, 422, `${element}: ${JSON.stringify(refused.body)}`);
        assert.ok(refused.body.issue[0].diagnostics.includes(`${element} `) && /CLIENT_REGISTRY_MAX_REPEATS/.test(refused.body.issue[0].diagnostics), refused.body.issue[0].diagnostics);
      }
      const atTheCap = await cr.request('POST', 'Patient', { ...base, identifier: many(MAX_REPEATS).map((i) => ({ system: CLINIC_A, value: `REP-${i}` })) });
      assert.equal(atTheCap.status, 201, JSON.stringify(atTheCap.body));
    });

    test('$match with a name part or repetitions past the caps is 400 (nothing compared)', async () => {
      const asked = (resource: unknown) => cr.request('POST', 'Patient/$match', { resourceType: 'Parameters', parameter: [{ name: 'resource', resource }] });
      const long = await asked(patient({ ids: [], family: `${'K'.repeat(MAX_NAME_PART)}J`, given: 'Z', birthDate: '1970-01-01' }));
      assert.equal(long.status, 400, JSON.stringify(long.body));
      const names = await asked({ resourceType: 'Patient', name: Array.from({ length: MAX_REPEATS + 1 }, (_, i) => ({ family: `K${i}` })) });
      assert.equal(names.status, 400, JSON.stringify(names.body));
    });

    test('HL7v2: a PID-3 with more repetitions than the cap, or a long PID-5 part, is answered AE at once (no search per identifier)', async () => {
      const ids = Array.from({ length: MAX_REPEATS + 1 }, (_, i) => `R${i}^^^CLINIC_A^MR`).join('~');
      const tooMany = hl7('ADT^A04^ADT_A01', `PID|1||${ids}||Phiri^Ada||19710101|F`);
      const ack = ackOf(await client.send(tooMany.text));
      assert.deepEqual([ack.code, ack.controlId], ['AE', tooMany.controlId]);
      assert.match(ack.errorText, /PID-3.*CLIENT_REGISTRY_MAX_REPEATS/);
      const merged = hl7('ADT^A40^ADT_A39', `PID|1||R0^^^CLINIC_A^MR||Phiri^Ada`, `MRG|${ids}`);
      assert.equal(ackOf(await client.send(merged.text)).code, 'AE');
      const long = hl7('ADT^A04^ADT_A01', `PID|1||L1^^^CLINIC_A^MR||${'K'.repeat(MAX_NAME_PART + 1)}^Ada||19710101|F`);
      const longAck = ackOf(await client.send(long.text));
      assert.equal(longAck.code, 'AE', longAck.errorText);
      assert.match(longAck.errorText, /CLIENT_REGISTRY_MAX_NAME_PART_CHARS/);
    });

    test('HL7v2: a QPD-4 (Q23) or QPD-8 (Q22) with more domains than the cap is answered AE at once (no lookup per domain)', async () => {
      const fed = hl7('ADT^A04^ADT_A01', 'PID|1||DOM-1^^^CLINIC_A^MR||Banda^Ada||19710101|F');
      assert.equal(ackOf(await client.send(fed.text)).code, 'AA');
      const domains = (count: number) => Array.from({ length: count }, () => '^^^CLINIC_A').join('~');
      const pix = (count: number) => hl7('QBP^Q23^QBP_Q21', `QPD|IHE PIX Query|Q1|DOM-1^^^CLINIC_A|${domains(count)}`, 'RCP|I');
      const pdq = (count: number) => hl7('QBP^Q22^QBP_Q21', `QPD|IHE PDQ Query|Q2|@PID.5.1^Banda|||||${domains(count)}`, 'RCP|I');
      for (const [query, field] of [[pix, 4], [pdq, 8]] as const) {
        const tooMany = query(MAX_REPEATS + 1);
        const answer = await client.send(tooMany.text);
        const ack = ackOf(answer);
        assert.deepEqual([ack.code, ack.controlId], ['AE', tooMany.controlId], ack.errorText);
        assert.match(ack.errorText, new RegExp(`QPD-${field}.*CLIENT_REGISTRY_MAX_REPEATS`));
        assert.equal(answer.getSegment('ERR')?.getField(2)?.toString(), `QPD^1^${field}^${MAX_REPEATS + 1}`);
        assert.equal(answer.getSegment('QAK')?.getField(2)?.toString(), 'AE');
        assert.equal(ackOf(await client.send(query(MAX_REPEATS).text)).code, 'AA');
      }
    });
  });
}
