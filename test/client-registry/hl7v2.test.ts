/**
 * HL7v2 over MLLP on both drivers: real framed messages over TCP. ADT registrations link
 * duplicates to one golden record exactly as FHIR writes do, A08 updates, A40 merges, Q23 (PIX)
 * and Q22 (PDQ) answer RSPs, and garbage, oversized or unframed input never crashes the listener.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { testDrivers } from '../support/databases.js';
import { ackOf, hl7, MllpClient } from './hl7v2-support.js';
import { CLINIC_A, CLINIC_B, NATIONAL_ID, NATIONAL_ID_OID, goldenOf, namingSystem, startRegistry, type RegistryUnderTest } from './support.js';

const CLINIC_A_OID = '2.16.999.1.10';
const MAX_MESSAGE = 4096;

function clinicSystem(name: string, url: string, oid?: string, namespace?: string): Record<string, unknown> {
  const system = namingSystem(name, url, oid) as { uniqueId: unknown[] };
  if (namespace) system.uniqueId.push({ type: 'other', value: namespace });
  return system;
}

/** One framed message over a fresh connection, the framed answer's bytes (the test client reads UTF-8 only). */
async function rawExchange(url: string, payload: Buffer): Promise<Buffer> {
  const { hostname, port } = new URL(url.replace(/^mllp:/, 'http:'));
  const socket = net.connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        const all = Buffer.concat(chunks);
        if (all.length >= 2 && all[all.length - 2] === 0x1c && all[all.length - 1] === 0x0d) resolve(all);
      });
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('closed before an answer')));
      socket.write(Buffer.concat([Buffer.of(0x0b), payload, Buffer.of(0x1c, 0x0d)]));
    });
  } finally {
    socket.destroy();
  }
}

for (const driver of testDrivers) {
  describe(`client registry HL7v2 over MLLP on ${driver}`, () => {
    let cr: RegistryUnderTest;
    let client: MllpClient;

    before(async () => {
      cr = await startRegistry(driver, { CLIENT_REGISTRY_MLLP_MAX_MESSAGE_BYTES: String(MAX_MESSAGE) });
      for (const system of [clinicSystem('NationalId', NATIONAL_ID, NATIONAL_ID_OID), clinicSystem('ClinicA', CLINIC_A, CLINIC_A_OID, 'CLINIC_A'), clinicSystem('ClinicB', CLINIC_B, undefined, 'CLINIC_B')]) {
        const created = await cr.request('POST', 'NamingSystem', system);
        assert.equal(created.status, 201, JSON.stringify(created.body));
      }
      assert.match(cr.running.endpoints.mllp!, /^mllp:\/\/127\.0\.0\.1:\d+$/);
      client = await MllpClient.connect(cr.running.endpoints.mllp!);
    });
    after(async () => {
      client?.close();
      await cr.close();
    });

    test('A04 registers; a duplicate A04 from another clinic links to the same golden record; ACK AA echoes MSH-10', async () => {
      const first = hl7('ADT^A04^ADT_A01', 'EVN|A04|20240101120000',
        `PID|1||A-100^^^CLINIC_A&${CLINIC_A_OID}&ISO^MR~NID-9^^^&${NATIONAL_ID_OID}&ISO^NI||Banda^Chikondi^M||19850317|F|||12 Lake Rd^^Zomba^^P01^MW^H||^PRN^PH^^^^0999123456|||||||||||||||N`,
        'PV1|1|O');
      const ack = ackOf(await client.send(first.text));
      assert.deepEqual([ack.code, ack.controlId], ['AA', first.controlId], ack.errorText);

      const found = await cr.request('GET', `Patient?identifier=${encodeURIComponent(`${CLINIC_A}|A-100`)}`);
      assert.equal((found.body.entry?.length ?? 0), 1);
      const a = found.body.entry[0].resource;
      assert.deepEqual(a.name, [{ family: 'Banda', given: ['Chikondi', 'M'] }]);
      assert.equal(a.birthDate, '1985-03-17');
      assert.equal(a.gender, 'female');
      assert.deepEqual(a.address, [{ use: 'home', line: ['12 Lake Rd'], city: 'Zomba', postalCode: 'P01', country: 'MW' }]);
      assert.deepEqual(a.telecom, [{ system: 'phone', value: '0999123456', use: 'home' }]);
      assert.ok(a.identifier.some((i: { system: string; value: string }) => i.system === NATIONAL_ID && i.value === 'NID-9'), 'an OID authority is stored as the domain URL');

      const duplicate = hl7('ADT^A04^ADT_A01', 'PID|1||B-200^^^CLINIC_B^MR||Banda^Chikondi||19850317|F');
      assert.equal(ackOf(await client.send(duplicate.text)).code, 'AA');
      const b = (await cr.request('GET', `Patient?identifier=${encodeURIComponent(`${CLINIC_B}|B-200`)}`)).body.entry[0].resource;
      assert.ok(goldenOf(a));
      assert.equal(goldenOf(b), goldenOf(a), 'the duplicate is linked to the same golden record');
      const pix = await cr.request('GET', `Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${CLINIC_B}|B-200`)}`);
      const ids = pix.body.parameter.filter((p: { name: string }) => p.name === 'targetIdentifier').map((p: { valueIdentifier: { value: string } }) => p.valueIdentifier.value).sort();
      assert.deepEqual(ids, ['A-100', 'NID-9']);
    });

    test('A08 updates the source record it names; the record keeps its golden record', async () => {
      const before = (await cr.request('GET', `Patient?identifier=${encodeURIComponent(`${CLINIC_A}|A-100`)}`)).body.entry[0].resource;
      const update = hl7('ADT^A08^ADT_A01', `PID|1||A-100^^^&${CLINIC_A_OID}&ISO||Banda^Chikondi^M||19850317|F|||7 Hill St^^Blantyre^^P02^MW^H|||||||||||||||||`);
      assert.equal(ackOf(await client.send(update.text)).code, 'AA');
      const afterUpdate = (await cr.request('GET', `Patient/${before.id}`)).body;
      assert.equal(afterUpdate.meta.versionId, String(Number(before.meta.versionId) + 1));
      assert.equal(afterUpdate.address[0].city, 'Blantyre');
      assert.ok(afterUpdate.identifier.some((i: { value: string }) => i.value === 'NID-9'), 'identifiers the update does not repeat are kept');
      assert.equal(goldenOf(afterUpdate), goldenOf(before));
      const all = await cr.request('GET', `Patient?identifier=${encodeURIComponent(`${CLINIC_A}|A-100`)}`);
      assert.equal((all.body.entry?.length ?? 0), 1, 'an update, not a second registration');
    });

    test('a Q22 answer\'s PID carries what the registry holds: work phones in PID-14, death in PID-29/30, as an A04 gave them', async () => {
      const registered = hl7('ADT^A04^ADT_A01', `PID|1||DTH-1^^^&${CLINIC_A_OID}&ISO||Lungu^Dalitso||19400202|M|||||0888444^PRN^PH|0111555^WPN^PH~dl@work.example^NET^Internet^dl@work.example|||||||||||||||200912241830+0200|Y`);
      assert.equal(ackOf(await client.send(registered.text)).code, 'AA');
      const answer = await client.send(hl7('QBP^Q22^QBP_Q21', 'QPD|IHE PDQ Query|D-1|@PID.3.1^DTH-1', 'RCP|I|10^RD').text);
      assert.equal(answer.getSegment('QAK')!.getField(2).toString(), 'OK');
      const pid = answer.getSegment('PID')!;
      assert.equal(pid.getField(13).toString(), '0888444^PRN^PH');
      assert.deepEqual(pid.getField(14).toString().split('~').sort(), ['0111555^WPN^PH', '^NET^Internet^dl@work.example']);
      assert.equal(pid.getField(29).toString(), '20091224183000+0200', 'the time and offset kept (FHIR 2009-12-24T18:30:00+02:00)');
      assert.equal(pid.getField(30).toString(), 'Y');
      const alive = await client.send(hl7('QBP^Q22^QBP_Q21', 'QPD|IHE PDQ Query|D-2|@PID.3.1^A-100', 'RCP|I|10^RD').text);
      assert.equal(alive.getSegment('PID')!.getField(29)?.toString() ?? '', '', 'no death recorded: PID-29/30 empty');
    });

    test('an update keeps what its PID leaves empty and clears what it sends as HL7\'s null "" (v2.5 2.5.3); other extensions and the other phone field are kept', async () => {
      const registered = hl7('ADT^A04^ADT_A01', `PID|1||NUL-1^^^&${CLINIC_A_OID}&ISO||Mwale^Esi||19790505|F|||1 Lake Rd^^Mangochi||0888111^PRN^PH|0111222^WPN^PH`);
      assert.equal(ackOf(await client.send(registered.text)).code, 'AA');
      const id = (await cr.request('GET', `Patient?identifier=${encodeURIComponent(`${CLINIC_A}|NUL-1`)}`)).body.entry[0].resource.id;
      const stored = (await cr.request('GET', `Patient/${id}`)).body;
      const birthPlace = { url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: { city: 'Zomba' } };
      assert.equal((await cr.request('PUT', `Patient/${id}`, { ...stored, extension: [birthPlace] })).status, 200);
      // PID-6 (mother's maiden name) and PID-14 (work phone) only: PID-13's home phone and the birthPlace extension stay.
      const partial = hl7('ADT^A08^ADT_A01', `PID|1||NUL-1^^^&${CLINIC_A_OID}&ISO|||Phiri||||||||0111333^WPN^PH`);
      assert.equal(ackOf(await client.send(partial.text)).code, 'AA');
      let now = (await cr.request('GET', `Patient/${id}`)).body;
      assert.deepEqual(now.telecom.map((t: { value: string; use: string }) => `${t.use} ${t.value}`).sort(), ['home 0888111', 'work 0111333']);
      assert.deepEqual(now.extension.map((e: { url: string }) => e.url).sort(), [birthPlace.url, 'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName']);
      assert.equal(now.name[0].family, 'Mwale');
      // "" clears: the name, the birth date, the sex, the address, the home phone; nothing stored as the text "".
      const nulled = hl7('ADT^A08^ADT_A01', `PID|1||NUL-1^^^&${CLINIC_A_OID}&ISO||""|""|""|""|||""||""`);
      const ack = ackOf(await client.send(nulled.text));
      assert.equal(ack.code, 'AA', ack.errorText);
      now = (await cr.request('GET', `Patient/${id}`)).body;
      for (const element of ['name', 'birthDate', 'gender', 'address']) assert.equal(now[element], undefined, `${element}: ${JSON.stringify(now[element])}`);
      assert.deepEqual(now.telecom.map((t: { value: string; use: string }) => `${t.use} ${t.value}`), ['work 0111333']);
      assert.deepEqual(now.extension.map((e: { url: string }) => e.url), [birthPlace.url]);
      assert.ok(!JSON.stringify(now).includes('\\"\\"'), JSON.stringify(now));
    });

    test('an identifier or a PDQ value holding a comma, | or \\ is searched as it is: an ADT never updates, nor a query finds, the record of another identifier', async () => {
      const victim = hl7('ADT^A04^ADT_A01', 'PID|1||V-1^^^CLINIC_B^MR||Victimson^Vera||19600101|F');
      assert.equal(ackOf(await client.send(victim.text)).code, 'AA');
      for (const [n, value] of ['NEW\\F\\V-1', 'NEW,V-1', 'NEW\\E\\,V-1'].entries()) {
        const other = hl7('ADT^A04^ADT_A01', `PID|1||${value}^^^CLINIC_A^MR||Other${n}^Art||19990101|M`);
        assert.equal(ackOf(await client.send(other.text)).code, 'AA');
      }
      const stored = (await cr.request('GET', `Patient?identifier=${encodeURIComponent(`${CLINIC_B}|V-1`)}`)).body.entry.map((e: { resource: unknown }) => e.resource);
      assert.equal(stored.length, 1);
      assert.deepEqual(stored[0].name, [{ family: 'Victimson', given: ['Vera'] }], 'the victim\'s record is untouched');
      assert.deepEqual(stored[0].identifier.map((i: { value: string }) => i.value), ['V-1']);
      for (const [n, value] of ['NEW|V-1', 'NEW,V-1', 'NEW\\,V-1'].entries()) {
        const own = await cr.request('GET', `Patient?identifier=${encodeURIComponent(`${CLINIC_A}|${value.replace(/[\\,|$]/g, '\\$&')}`)}`);
        assert.deepEqual(own.body.entry.map((e: { resource: { name: Array<{ family: string }> } }) => e.resource.name[0].family), [`Other${n}`], value);
      }
      for (const criteria of ['@PID.3.1^NEW,V-1', '@PID.5.1^Nobody,Victimson']) {
        const query = hl7('QBP^Q22^QBP_Q21', `QPD|IHE PDQ Query|QC|${criteria}`, 'RCP|I');
        const answer = await client.send(query.text);
        const names = answer.getAllSegments('PID').map((pid) => pid.getField(5)?.getComponent(1));
        assert.ok(!names.includes('Victimson'), `${criteria} found ${names.join(', ')}`);
      }
    });

    test('Q23 (PIX) returns the person\'s identifiers in other domains; NF, unknown identifier and unknown domains', async () => {
      const query = hl7('QBP^Q23^QBP_Q21', 'QPD|IHE PIX Query|Q-1|B-200^^^CLINIC_B', 'RCP|I');
      const answer = await client.send(query.text);
      assert.equal(answer.header.getField(9).toString(), 'RSP^K23^RSP_K23');
      assert.deepEqual([ackOf(answer).code, ackOf(answer).controlId], ['AA', query.controlId]);
      assert.deepEqual(answer.getSegment('QAK')!.getField(1).toString(), 'Q-1');
      assert.equal(answer.getSegment('QAK')!.getField(2).toString(), 'OK');
      const pid = answer.getSegment('PID')!;
      const identifiers = pid.getField(3).components.map((cx) => `${cx[0]}|${cx[3]}`).sort();
      assert.deepEqual(identifiers, [`A-100|ClinicA&${CLINIC_A_OID}&ISO`.replace('ClinicA', 'CLINIC_A'), `NID-9|NationalId&${NATIONAL_ID_OID}&ISO`]);

      const onlyNational = await client.send(hl7('QBP^Q23^QBP_Q21', 'QPD|IHE PIX Query|Q-2|A-100^^^CLINIC_A|^^^&2.16.999.1.1&ISO', 'RCP|I').text);
      assert.deepEqual(onlyNational.getSegment('PID')!.getField(3).components.map((cx) => cx[0]), ['NID-9']);

      const none = await client.send(hl7('QBP^Q23^QBP_Q21', 'QPD|IHE PIX Query|Q-3|NID-9^^^&2.16.999.1.1&ISO|^^^&2.16.999.1.1&ISO', 'RCP|I').text);
      assert.equal(ackOf(none).code, 'AA');
      assert.equal(none.getSegment('QAK')!.getField(2).toString(), 'NF', 'known person, nothing in the asked domain');
      assert.equal(none.getSegment('PID'), undefined);

      const unknownId = await client.send(hl7('QBP^Q23^QBP_Q21', 'QPD|IHE PIX Query|Q-4|NOPE^^^CLINIC_B', 'RCP|I').text);
      assert.equal(ackOf(unknownId).code, 'AE');
      assert.equal(ackOf(unknownId).error, '204');
      assert.equal(unknownId.getSegment('ERR')!.getField(2).toString(), 'QPD^1^3^1^1');
      assert.equal(unknownId.getSegment('QAK')!.getField(2).toString(), 'AE');

      const unknownDomain = await client.send(hl7('QBP^Q23^QBP_Q21', 'QPD|IHE PIX Query|Q-5|B-200^^^ROGUE', 'RCP|I').text);
      assert.deepEqual([ackOf(unknownDomain).code, ackOf(unknownDomain).error], ['AE', '204']);
      assert.equal(unknownDomain.getSegment('ERR')!.getField(2).toString(), 'QPD^1^3^1^4');
      const unknownTarget = await client.send(hl7('QBP^Q23^QBP_Q21', 'QPD|IHE PIX Query|Q-6|B-200^^^CLINIC_B|^^^CLINIC_A~^^^ROGUE', 'RCP|I').text);
      assert.deepEqual([ackOf(unknownTarget).code, ackOf(unknownTarget).error], ['AE', '204']);
      assert.equal(unknownTarget.getSegment('ERR')!.getField(2).toString(), 'QPD^1^4^2');
    });

    test('Q22 (PDQ) finds people by name and birth date, one PID per person', async () => {
      const query = hl7('QBP^Q22^QBP_Q21', 'QPD|IHE PDQ Query|P-1|@PID.5.1.1^BANDA~@PID.7^19850317', 'RCP|I|10^RD');
      const answer = await client.send(query.text);
      assert.equal(answer.header.getField(9).toString(), 'RSP^K22^RSP_K21');
      assert.equal(ackOf(answer).code, 'AA');
      assert.equal(answer.getSegment('QAK')!.getField(2).toString(), 'OK');
      const pids = answer.getAllSegments('PID');
      assert.equal(pids.length, 1, 'two source records of one person are one PID');
      assert.equal(pids[0]!.getField(5).getComponent(1), 'Banda');
      assert.equal(pids[0]!.getField(7).toString(), '19850317');
      const ids = pids[0]!.getField(3).components.map((cx) => cx[0]).sort();
      assert.deepEqual(ids, ['A-100', 'B-200', 'NID-9']);

      const inDomain = await client.send(hl7('QBP^Q22^QBP_Q21', 'QPD|IHE PDQ Query|P-2|@PID.5.1^Banda|||||^^^CLINIC_B', 'RCP|I').text);
      assert.deepEqual(inDomain.getSegment('PID')!.getField(3).components.map((cx) => cx[0]), ['B-200']);
      const nobody = await client.send(hl7('QBP^Q22^QBP_Q21', 'QPD|IHE PDQ Query|P-3|@PID.5.1^Nobody', 'RCP|I').text);
      assert.deepEqual([ackOf(nobody).code, nobody.getSegment('QAK')!.getField(2).toString()], ['AA', 'NF']);
      const badField = await client.send(hl7('QBP^Q22^QBP_Q21', 'QPD|IHE PDQ Query|P-4|@PID.99^x', 'RCP|I').text);
      assert.equal(ackOf(badField).code, 'AE');
      const control = await client.send(hl7('QBP^Q22^QBP_Q21', 'QPD|IHE PDQ Query|P-4b|@PID.5.1^Ban\u0000da', 'RCP|I').text);
      assert.deepEqual([ackOf(control).code, ackOf(control).error], ['AE', '102'], 'a control character in a value: data type error');
      assert.equal(control.getSegment('ERR')!.getField(2).toString(), 'QPD^1^3^1^2');
      const badDomain = await client.send(hl7('QBP^Q22^QBP_Q21', 'QPD|IHE PDQ Query|P-5|@PID.5.1^Banda|||||^^^ROGUE', 'RCP|I').text);
      assert.deepEqual([ackOf(badDomain).code, ackOf(badDomain).error], ['AE', '204']);
      assert.equal(badDomain.getSegment('ERR')!.getField(2).toString(), 'QPD^1^8^1');
    });

    test('Q22 with a quantity limit answers in increments: QAK hit counts, a DSC pointer, continuation with the same QPD (ITI-21)', async () => {
      for (const [n, given, born] of [[1, 'Ada', '19600101'], [2, 'Bea', '19700202'], [3, 'Cai', '19800303']] as const) {
        const ack = ackOf(await client.send(hl7('ADT^A04^ADT_A01', `PID|1||K-${n}^^^CLINIC_A||Kontinua^${given}||${born}|${n === 2 ? 'M' : 'F'}`, 'PV1|1|O').text));
        assert.equal(ack.code, 'AA', ack.errorText);
      }
      const qpd = 'QPD|IHE PDQ Query|C-1|@PID.5.1.1^KONTINUA';
      const first = await client.send(hl7('QBP^Q22^QBP_Q21', qpd, 'RCP|I|2^RD').text);
      const qak = first.getSegment('QAK')!;
      assert.deepEqual([2, 3, 4, 5, 6].map((f) => qak.getField(f).toString()), ['OK', 'IHE PDQ Query', '3', '2', '1']);
      assert.equal(first.getAllSegments('PID').length, 2);
      const pointer = first.getSegment('DSC')!.getField(1).toString();
      assert.ok(pointer, 'a continuation pointer while hits remain');

      const next = await client.send(hl7('QBP^Q22^QBP_Q21', qpd.replace('C-1', 'C-2'), 'RCP|I|2^RD', `DSC|${pointer}|I`).text);
      assert.equal(ackOf(next).code, 'AA', ackOf(next).errorText);
      assert.deepEqual([4, 5, 6].map((f) => next.getSegment('QAK')!.getField(f).toString()), ['3', '1', '0']);
      assert.equal(next.getSegment('DSC'), undefined, 'nothing left: no pointer');
      const everyone = [...first.getAllSegments('PID'), ...next.getAllSegments('PID')].map((pid) => pid.getField(5).getComponent(2)).sort();
      assert.deepEqual(everyone, ['Ada', 'Bea', 'Cai'], 'each person once across the increments');

      const otherQuery = await client.send(hl7('QBP^Q22^QBP_Q21', 'QPD|IHE PDQ Query|C-3|@PID.5.1.1^BANDA', 'RCP|I|2^RD', `DSC|${pointer}|I`).text);
      assert.deepEqual([ackOf(otherQuery).code, otherQuery.getSegment('ERR')!.getField(2).toString()], ['AE', 'DSC^1^1'], 'a pointer of another query');
      const forged = await client.send(hl7('QBP^Q22^QBP_Q21', qpd, 'RCP|I|2^RD', 'DSC|99999999999|I').text);
      assert.equal(ackOf(forged).code, 'AE');
      const unlimited = await client.send(hl7('QBP^Q22^QBP_Q21', qpd, 'RCP|I').text);
      assert.equal(unlimited.getAllSegments('PID').length, 3, 'no quantity limit: every hit at once');
      assert.equal(unlimited.getSegment('DSC'), undefined);
    });

    test('A40 merges the MRG-1 patient into the PID-3 patient', async () => {
      const extra = hl7('ADT^A04^ADT_A01', 'PID|1||A-300^^^CLINIC_A||Phiri^Grace||19700101|F');
      assert.equal(ackOf(await client.send(extra.text)).code, 'AA');
      const merge = hl7('ADT^A40^ADT_A39', 'EVN|A40|20240101120000', 'PID|1||B-200^^^CLINIC_B||Banda^Chikondi', 'MRG|A-300^^^CLINIC_A');
      const ack = ackOf(await client.send(merge.text));
      assert.equal(ack.code, 'AA', ack.errorText);
      const prior = (await cr.request('GET', `Patient?identifier=${encodeURIComponent(`${CLINIC_A}|A-300`)}`)).body.entry[0].resource;
      const survivor = (await cr.request('GET', `Patient?identifier=${encodeURIComponent(`${CLINIC_B}|B-200`)}`)).body.entry[0].resource;
      assert.equal(prior.active, false);
      assert.ok(prior.link.some((l: { type: string; other: { reference: string } }) => l.type === 'replaced-by' && l.other.reference === `Patient/${survivor.id}`));
      assert.equal(goldenOf(prior), goldenOf(survivor), 'the prior record joins the survivor\'s golden record');
      const unknown = ackOf(await client.send(hl7('ADT^A40^ADT_A39', 'PID|1||B-200^^^CLINIC_B', 'MRG|GHOST^^^CLINIC_A').text));
      assert.deepEqual([unknown.code, unknown.error], ['AE', '204']);
      // Review finding 12: a resent A40 (same MSH-10, the ACK was lost) is AA again and changes nothing;
      // merging a patient into itself is AE 205; a merged record named again as prior elsewhere is AE 205.
      const versionBefore = (await cr.request('GET', `Patient/${prior.id}`)).body.meta.versionId;
      const resent = ackOf(await client.send(merge.text));
      assert.deepEqual([resent.code, resent.controlId], ['AA', merge.controlId], resent.errorText);
      assert.equal((await cr.request('GET', `Patient/${prior.id}`)).body.meta.versionId, versionBefore, 'nothing changed');
      const self = ackOf(await client.send(hl7('ADT^A40^ADT_A39', 'PID|1||B-200^^^CLINIC_B', 'MRG|B-200^^^CLINIC_B').text));
      assert.deepEqual([self.code, self.error], ['AE', '205'], self.errorText);
      const other = hl7('ADT^A04^ADT_A01', 'PID|1||A-301^^^CLINIC_A||Mvula^Tiwonge||19660606|M');
      assert.equal(ackOf(await client.send(other.text)).code, 'AA');
      const again = ackOf(await client.send(hl7('ADT^A40^ADT_A39', 'PID|1||A-301^^^CLINIC_A', 'MRG|A-300^^^CLINIC_A').text));
      assert.deepEqual([again.code, again.error], ['AE', '205'], again.errorText);
      // Review finding 6: a Q22 on the merged-away record's name never answers the survivor's
      // identifiers with the merged-away demographics; the merged-away record is no patient any more.
      const onPrior = await client.send(hl7('QBP^Q22^QBP_Q21', 'QPD|IHE PDQ Query|P-6|@PID.5.1.1^PHIRI', 'RCP|I|10^RD').text);
      for (const pid of onPrior.getAllSegments('PID')) {
        const ids = pid.getField(3).components.map((cx) => cx[0]);
        assert.ok(!(pid.getField(5).getComponent(1) === 'Phiri' && ids.includes('B-200')), `a PID mixes two records: ${pid.toString()}`);
      }
      assert.equal(onPrior.getSegment('QAK')!.getField(2).toString(), 'NF');
      const onSurvivor = await client.send(hl7('QBP^Q22^QBP_Q21', 'QPD|IHE PDQ Query|P-7|@PID.5.1.1^BANDA', 'RCP|I|10^RD').text);
      const survivorPid = onSurvivor.getSegment('PID')!;
      assert.equal(survivorPid.getField(5).getComponent(1), 'Banda');
      assert.ok(!survivorPid.getField(3).components.some((cx) => cx[0] === 'A-300'), 'the merged-away identifier is not the person\'s any more');
    });

    test('MSH-18 8859/1 is decoded as Latin-1 and answered in it; undeclared non-UTF-8 bytes, non-ASCII bytes under ASCII and unknown sets are refused (review finding 13)', async () => {
      const latin1 = (text: string) => Buffer.from(text, 'latin1');
      const msh = (type: string, id: string, charset: string) => `MSH|^~\\&|CLINIC_A|FAC_A|CR|MOH|20240101120000||${type}|${id}|P|2.5||||||${charset}`;
      const admit = [msh('ADT^A04^ADT_A01', 'L1', '8859/1'), 'PID|1||L-1^^^CLINIC_A^MR||Müller^José||19770707|M'].join('\r');
      const reply = await rawExchange(cr.running.endpoints.mllp!, latin1(admit));
      assert.match(reply.toString('latin1'), /MSA\|AA\|L1/);
      assert.match(reply.toString('latin1'), /^\x0bMSH(\|[^|\r]*){16}\|8859\/1/, 'the answer declares the same character set');
      const stored = (await cr.request('GET', `Patient?identifier=${encodeURIComponent(`${CLINIC_A}|L-1`)}`)).body.entry[0].resource;
      assert.deepEqual(stored.name[0], { family: 'Müller', given: ['José'] });
      const query = [msh('QBP^Q22^QBP_Q21', 'L2', '8859/1'), 'QPD|IHE PDQ Query|L-Q|@PID.3.1^L-1', 'RCP|I|10^RD'].join('\r');
      const answer = await rawExchange(cr.running.endpoints.mllp!, latin1(query));
      assert.ok(answer.includes(latin1('Müller^José')), 'the PID is written in Latin-1');

      const undeclared = [msh('ADT^A04^ADT_A01', 'L3', ''), 'PID|1||L-3^^^CLINIC_A^MR||Müller^Ana||19770707|F'].join('\r');
      const refused = (await rawExchange(cr.running.endpoints.mllp!, latin1(undeclared))).toString('latin1');
      assert.match(refused, /MSA\|AE\|L3/);
      assert.match(refused, /not valid UTF-8/);
      assert.equal((await cr.request('GET', `Patient?identifier=${encodeURIComponent(`${CLINIC_A}|L-3`)}`)).body.entry?.length ?? 0, 0, 'nothing stored as U+FFFD');
      const ascii = [msh('ADT^A04^ADT_A01', 'L6', 'ASCII'), 'PID|1||L-6^^^CLINIC_A^MR||Müller^Ana||19770707|F'].join('\r');
      const notAscii = (await rawExchange(cr.running.endpoints.mllp!, latin1(ascii))).toString('latin1');
      assert.match(notAscii, /MSA\|AE\|L6/);
      assert.match(notAscii, /declares ASCII but the message holds bytes above 127/);
      const plain = [msh('ADT^A04^ADT_A01', 'L7', 'ASCII'), 'PID|1||L-7^^^CLINIC_A^MR||Muller^Ana||19770707|F'].join('\r');
      assert.match((await rawExchange(cr.running.endpoints.mllp!, latin1(plain))).toString('latin1'), /MSA\|AA\|L7/);
      // An answer under MSH-18 ASCII is ASCII too: a stored character ASCII lacks becomes "?" (as under 8859/1), never UTF-8 bytes.
      const asciiQuery = [msh('QBP^Q22^QBP_Q21', 'L8', 'ASCII'), 'QPD|IHE PDQ Query|L-Q8|@PID.3.1^L-1', 'RCP|I|10^RD'].join('\r');
      const asciiAnswer = await rawExchange(cr.running.endpoints.mllp!, latin1(asciiQuery));
      assert.ok(asciiAnswer.every((byte) => byte < 0x80), `bytes above 127 under ASCII: ${asciiAnswer.toString('latin1')}`);
      assert.match(asciiAnswer.toString('latin1'), /\|M\?ller\^Jos\?\|/);
      const utf8 = [msh('ADT^A04^ADT_A01', 'L4', 'UNICODE UTF-8'), 'PID|1||L-4^^^CLINIC_A^MR||Müller^Ana||19770707|F'].join('\r');
      assert.match((await rawExchange(cr.running.endpoints.mllp!, Buffer.from(utf8, 'utf8'))).toString('utf8'), /MSA\|AA\|L4/);
      const unknownSet = (await rawExchange(cr.running.endpoints.mllp!, latin1([msh('ADT^A04^ADT_A01', 'L5', 'ISO IR87'), 'PID|1||L-5^^^CLINIC_A^MR||Doe^Jo||19770707|F'].join('\r')))).toString('latin1');
      assert.match(unknownSet, /MSA\|AR\|L5/);
      assert.match(unknownSet, /\|103\^/);
      assert.match(unknownSet, /^\x0bMSH\|[^\r]*\|2\.5\r/, 'the refusal declares no MSH-18: it is not in the set it refuses');
    });

    test('refusals: unknown authority, missing PID-3, bad sex, unsupported types and events, garbage in a frame', async () => {
      const cases: Array<[string, string, string]> = [
        [hl7('ADT^A04^ADT_A01', 'PID|1||X-1^^^ROGUE||Doe^Jane||19900101|F').text, 'AE', '204'],
        [hl7('ADT^A04^ADT_A01', 'PID|1||||Doe^Jane||19900101|F').text, 'AE', '101'],
        [hl7('ADT^A04^ADT_A01', 'PID|1||X-2^^^CLINIC_A||Doe^Jane||19900101|Q').text, 'AE', '103'],
        [hl7('ADT^A04^ADT_A01', 'PID|1||X-3^^^CLINIC_A||Doe^Jane||notadate|F').text, 'AE', '102'],
        // a DTM that starts with a year is still no date: ISO dashes, month 13, 30 February, a death date that is none
        [hl7('ADT^A04^ADT_A01', 'PID|1||X-5^^^CLINIC_A||Doe^Jane||2025-13-45|F').text, 'AE', '102'],
        [hl7('ADT^A04^ADT_A01', 'PID|1||X-6^^^CLINIC_A||Doe^Jane||20251301|F').text, 'AE', '102'],
        [hl7('ADT^A04^ADT_A01', 'PID|1||X-7^^^CLINIC_A||Doe^Jane||20250230|F').text, 'AE', '102'],
        [hl7('ADT^A04^ADT_A01', 'PID|1||X-8^^^CLINIC_A||Doe^Jane||19900101|F|||||||||||||||||||||2024-01-01').text, 'AE', '102'],
        [hl7('ADT^A04^ADT_A01', 'EVN|A04').text, 'AE', '100'],
        [hl7('ADT^A99^ADT_A01', 'PID|1||X-4^^^CLINIC_A').text, 'AR', '201'],
        [hl7('ORU^R01^ORU_R01', 'OBX|1').text, 'AR', '200'],
        [hl7('QBP^Q99^QBP_Q21', 'QPD|x|y').text, 'AR', '201'],
        ['this is not HL7 at all', 'AR', '100'],
        ['MSH', 'AR', '100'],
      ];
      for (const [text, code, error] of cases) {
        const answer = ackOf(await client.send(text));
        assert.deepEqual([answer.code, answer.error], [code, error], `${text.slice(0, 60)}: ${answer.errorText}`);
      }
      assert.equal((await cr.request('GET', 'Patient?family=doe')).body.entry?.length ?? 0, 0, 'nothing of a refused message is stored');
    });

    test('unframed and oversized input closes that connection only; the listener keeps answering', async () => {
      const unframed = await MllpClient.connect(cr.running.endpoints.mllp!);
      unframed.socket.write('MSH|^~\\&|no frame at all\r');
      await unframed.closed;

      const oversized = await MllpClient.connect(cr.running.endpoints.mllp!);
      oversized.socket.write(`\x0b${hl7('ADT^A04^ADT_A01', `PID|1||Z-1^^^CLINIC_A||${'x'.repeat(MAX_MESSAGE)}`).text}\x1c\r`);
      await oversized.closed;

      const badEnd = await MllpClient.connect(cr.running.endpoints.mllp!);
      badEnd.socket.write('\x0bMSH|^~\\&|A\x1cX');
      await badEnd.closed;

      // Two messages in one write, and one message split across writes, are each answered in order.
      const first = hl7('QBP^Q23^QBP_Q21', 'QPD|IHE PIX Query|Q-7|B-200^^^CLINIC_B', 'RCP|I');
      const second = hl7('QBP^Q23^QBP_Q21', 'QPD|IHE PIX Query|Q-8|A-100^^^CLINIC_A', 'RCP|I');
      const both = [client.sendRaw(''), client.sendRaw(`\x0b${first.text}\x1c\r\x0b${second.text}\x1c\r`)];
      const answers = await Promise.all(both);
      assert.match(answers[0]!, new RegExp(`MSA\\|AA\\|${first.controlId}`));
      assert.match(answers[1]!, new RegExp(`MSA\\|AA\\|${second.controlId}`));
      const split = hl7('QBP^Q23^QBP_Q21', 'QPD|IHE PIX Query|Q-9|B-200^^^CLINIC_B', 'RCP|I');
      const pending = client.sendRaw(`\x0b${split.text.slice(0, 20)}`);
      client.socket.write(`${split.text.slice(20)}\x1c\r`);
      assert.match(await pending, new RegExp(`MSA\\|AA\\|${split.controlId}`));
    });

    test('the connection cap makes room by closing an idle connection; the idle deadline closes silent ones', async () => {
      const small = await startRegistry(driver, { CLIENT_REGISTRY_MLLP_MAX_CONNECTIONS: '2', CLIENT_REGISTRY_MLLP_IDLE_TIMEOUT_MS: '2000' });
      try {
        const url = small.running.endpoints.mllp!;
        const silent = await MllpClient.connect(url);
        await silent.closed; // closed by the idle deadline, with no message sent
        const one = await MllpClient.connect(url);
        const two = await MllpClient.connect(url);
        const three = await MllpClient.connect(url);
        await one.closed; // the oldest idle connection made room
        const answer = ackOf(await three.send(hl7('QBP^Q23^QBP_Q21', 'QPD|IHE PIX Query|Q-1|A-1^^^http://x.example.org', 'RCP|I').text));
        assert.equal(answer.code, 'AE', 'the newest connection is served');
        two.close();
        three.close();
        // The listener still accepts connections after all this.
        const again = await MllpClient.connect(url);
        again.close();
        assert.ok(net.isIP('127.0.0.1'));
      } finally {
        await small.close();
      }
    });
  });
}
