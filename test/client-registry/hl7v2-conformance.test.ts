/**
 * HL7 v2.5 control and IHE ITI TF-2 details of the registry's MLLP answers, on both drivers:
 * answers written in ^~\& whatever delimiters the request used (MSH fields and the QPD echo
 * re-encoded), malformed MSH-2 and missing MSH-9/10/12 refused, ERR-1 for v2.3.1 senders (ITI-8's
 * version), one ERR per unknown domain in QPD-4/QPD-8 located at its repetition, an A40 holding
 * more than one PID/MRG pair refused, QCN^J01 (ITI-21 cancel query) acknowledged, MSH-7 in UTC with its offset.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { ackOf, hl7, MllpClient } from './hl7v2-support.js';
import { CLINIC_A, CLINIC_B, NATIONAL_ID, NATIONAL_ID_OID, namingSystem, startRegistry, type RegistryUnderTest } from './support.js';

const CLINIC_A_OID = '2.16.999.1.10';

function clinicSystem(name: string, url: string, oid?: string, namespace?: string): Record<string, unknown> {
  const system = namingSystem(name, url, oid) as { uniqueId: unknown[] };
  if (namespace) system.uniqueId.push({ type: 'other', value: namespace });
  return system;
}

/** The answer's segments as text, split on CR. */
const segmentsOf = (answer: string) => answer.split('\r');
const segment = (answer: string, name: string) => segmentsOf(answer).filter((s) => s.startsWith(`${name}|`));

for (const driver of testDrivers) {
  describe(`client registry HL7v2 conformance on ${driver}`, () => {
    let cr: RegistryUnderTest;
    let client: MllpClient;

    before(async () => {
      cr = await startRegistry(driver);
      for (const system of [clinicSystem('NationalId', NATIONAL_ID, NATIONAL_ID_OID), clinicSystem('ClinicA', CLINIC_A, CLINIC_A_OID, 'CLINIC_A'), clinicSystem('ClinicB', CLINIC_B, undefined, 'CLINIC_B')]) {
        assert.equal((await cr.request('POST', 'NamingSystem', system)).status, 201);
      }
      client = await MllpClient.connect(cr.running.endpoints.mllp!);
      for (const pid of ['PID|1||C-1^^^CLINIC_A^MR~N-1^^^&2.16.999.1.1&ISO^NI||Conform^Ada||19800101|F', 'PID|1||C-2^^^CLINIC_A^MR||Second^Bo||19810101|M',
        'PID|1||C-3^^^CLINIC_A^MR||Third^Cy||19820101|M', 'PID|1||C-4^^^CLINIC_A^MR||Fourth^Di||19830101|F']) {
        const ack = ackOf(await client.send(hl7('ADT^A04^ADT_A01', pid).text));
        assert.equal(ack.code, 'AA', ack.errorText);
      }
    });
    after(async () => {
      client?.close();
      await cr.close();
    });

    test('a request with other delimiters (MSH-1 *, MSH-2 #~\\&) is answered in |^~\\&: MSH-3..6 and the QPD echo re-encoded (HL7 v2.5 2.5.4)', async () => {
      const components = await client.sendRaw('\x0bMSH|#~\\&|CLIN#X|FAC|CR#Y|MOH|20240101120000||QBP#Q23#QBP_Q21|D-1|P|2.5\rQPD|IHE PIX Query|T^1|C-1###CLINIC_A\rRCP|I\x1c\r');
      assert.match(components, /^MSH\|\^~\\&\|CR\^Y\|MOH\|CLIN\^X\|FAC\|/, components);
      assert.deepEqual(segment(components, 'QPD'), ['QPD|IHE PIX Query|T\\S\\1|C-1^^^CLINIC_A'], 'a literal ^ of the request is escaped, # becomes ^');
      assert.deepEqual(segment(components, 'QAK'), ['QAK|T\\S\\1|OK']);
      assert.deepEqual(segment(components, 'MSA'), ['MSA|AA|D-1']);

      const fields = await client.sendRaw('\x0bMSH*^~\\&*CLINIC_A*FAC_A*CR*MOH*20240101120000**QBP^Q23^QBP_Q21*D-2*P*2.5\rQPD*IHE PIX Query*Q-D2*C-1^^^CLINIC_A\rRCP*I\x1c\r');
      assert.match(fields, /^MSH\|\^~\\&\|CR\|MOH\|CLINIC_A\|FAC_A\|/);
      assert.deepEqual(segment(fields, 'QPD'), ['QPD|IHE PIX Query|Q-D2|C-1^^^CLINIC_A'], fields);
      assert.deepEqual(segment(fields, 'PID').map((pid) => pid.split('|')[3]), ['N-1^^^NationalId&2.16.999.1.1&ISO']);
    });

    test('MSH-7 of an answer states its time zone (+0000): a TS without one is the sender\'s local time (HL7 v2.5, data type TS)', async () => {
      const answer = await client.send(hl7('QBP^Q23^QBP_Q21', 'QPD|IHE PIX Query|Z-1|C-1^^^CLINIC_A', 'RCP|I').text);
      const sent = answer.header.getField(7).toString();
      assert.match(sent, /^\d{14}\+0000$/);
      const at = Date.UTC(+sent.slice(0, 4), +sent.slice(4, 6) - 1, +sent.slice(6, 8), +sent.slice(8, 10), +sent.slice(10, 12), +sent.slice(12, 14));
      assert.ok(Math.abs(Date.now() - at) < 60_000, `${sent} is now, in UTC`);
    });

    test('an MSH-2 that is not four distinct encoding characters is AR 102 at MSH-2, nothing stored', async () => {
      for (const [encoding, id] of [['^~', 'E-1'], ['^^\\&', 'E-2']] as const) {
        const answer = await client.send(`MSH|${encoding}|CLINIC_A|FAC_A|CR|MOH|20240101120000||ADT^A04^ADT_A01|${id}|P|2.5\rPID|1||X-${id}^^^CLINIC_A||Chirwa^Chikondi||19800101|F`);
        const ack = ackOf(answer);
        assert.deepEqual([ack.code, ack.controlId, ack.error], ['AR', id, '102'], ack.errorText);
        assert.equal(answer.getSegment('ERR')!.getField(2).toString(), 'MSH^1^2');
      }
      assert.equal((await cr.request('GET', 'Patient?family=chirwa')).body.entry?.length ?? 0, 0);
    });

    test('MSH-9, MSH-10 and MSH-12 are required: AR 101 at the field; an unknown version is AR 203, an unknown processing ID AR 202 (HL7 v2.5 2.9.2.1)', async () => {
      const msh = (type: string, id: string, processing: string, version: string) => `MSH|^~\\&|CLINIC_A|FAC_A|CR|MOH|20240101120000||${type}|${id}|${processing}|${version}`;
      const cases: Array<[string, string, string, string]> = [
        [msh('', 'V-1', 'P', '2.5'), 'AR', '101', 'MSH^1^9'],
        [msh('ADT^A04^ADT_A01', '', 'P', '2.5'), 'AR', '101', 'MSH^1^10'],
        [msh('ADT^A04^ADT_A01', 'V-3', 'P', ''), 'AR', '101', 'MSH^1^12'],
        [msh('ADT^A04^ADT_A01', 'V-4', 'P', '3.0'), 'AR', '203', 'MSH^1^12'],
        [msh('ADT^A04^ADT_A01', 'V-5', 'X', '2.5'), 'AR', '202', 'MSH^1^11'],
      ];
      for (const [header, code, error, location] of cases) {
        const answer = await client.send(`${header}\rPID|1||V-X^^^CLINIC_A||Version^Vic||19800101|F`);
        const ack = ackOf(answer);
        assert.deepEqual([ack.code, ack.error, answer.getSegment('ERR')!.getField(2).toString()], [code, error, location], `${header}: ${ack.errorText}`);
      }
      assert.equal((await cr.request('GET', 'Patient?family=version')).body.entry?.length ?? 0, 0, 'nothing of a refused message is stored');
      for (const [version, processing] of [['2.3.1', 'P'], ['2.4', 'T'], ['2.5.1', 'D'], ['2.5', 'P^T']] as const) {
        const ack = ackOf(await client.send(`${msh('QBP^Q23^QBP_Q21', `V-${version}`, processing, version)}\rQPD|IHE PIX Query|Q|C-1^^^CLINIC_A\rRCP|I`));
        assert.equal(ack.code, 'AA', `${version} ${processing}: ${ack.errorText}`);
      }
    });

    test('a v2.3.1 sender (ITI-8) gets ERR-1 (segment^sequence^field^code) beside the v2.5 ERR-2/ERR-3', async () => {
      const feed = 'MSH|^~\\&|CLINIC_A|FAC_A|CR|MOH|20240101120000||ADT^A01|OLD-1|P|2.3.1\rEVN|A01\rPID|||X-1^^^ROGUE||Doe^Jo||19800101|F';
      const answer = await client.send(feed);
      assert.equal(answer.header.getField(12).toString(), '2.3.1');
      const err = answer.getSegment('ERR')!;
      assert.equal(err.getField(1).toString(), 'PID^1^3^204&Unknown key identifier&HL70357');
      assert.equal(err.getField(3).getComponent(1), '204');
      const current = await client.send(feed.replace('2.3.1', '2.5').replace('OLD-1', 'NEW-1'));
      assert.equal(current.getSegment('ERR')!.getField(1)?.toString() ?? '', '', 'v2.5 leaves ERR-1 (kept for backward compatibility only) empty');
    });

    test('unknown domains in QPD-4 (ITI-9 case 5) and QPD-8 (ITI-21): AE, one ERR 204 per unknown domain, ERR-2 at its repetition', async () => {
      const pix = await client.send(hl7('QBP^Q23^QBP_Q21', 'QPD|IHE PIX Query|U-1|C-1^^^CLINIC_A|^^^ROGUE~^^^CLINIC_B~^^^&9.9.9&ISO', 'RCP|I').text);
      assert.equal(ackOf(pix).code, 'AE');
      assert.equal(pix.getSegment('QAK')!.getField(2).toString(), 'AE');
      assert.deepEqual(pix.getAllSegments('ERR').map((e) => [e.getField(2).toString(), e.getField(3).getComponent(1)]), [['QPD^1^4^1', '204'], ['QPD^1^4^3', '204']]);
      assert.equal(pix.getSegment('PID'), undefined);
      const pdq = await client.send(hl7('QBP^Q22^QBP_Q21', 'QPD|IHE PDQ Query|U-2|@PID.5.1.1^CONFORM|||||^^^CLINIC_A~^^^ROGUE', 'RCP|I').text);
      assert.deepEqual([ackOf(pdq).code, pdq.getSegment('QAK')!.getField(2).toString()], ['AE', 'AE']);
      assert.deepEqual(pdq.getAllSegments('ERR').map((e) => e.getField(2).toString()), ['QPD^1^8^2']);
    });

    test('an A40 with more than one PID/MRG pair is AE 100 and merges nothing (ITI-8: one pair per message)', async () => {
      const merge = hl7('ADT^A40^ADT_A39', 'EVN|A40', 'PID|1||C-1^^^CLINIC_A', 'MRG|C-2^^^CLINIC_A', 'PID|2||C-3^^^CLINIC_A', 'MRG|C-4^^^CLINIC_A');
      const answer = await client.send(merge.text);
      const ack = ackOf(answer);
      assert.deepEqual([ack.code, ack.controlId, ack.error], ['AE', merge.controlId, '100'], ack.errorText);
      assert.equal(answer.getSegment('ERR')!.getField(2).toString(), 'PID^2');
      for (const id of ['C-2', 'C-4']) {
        const found = (await cr.request('GET', `Patient?identifier=${encodeURIComponent(`${CLINIC_A}|${id}`)}`)).body.entry[0].resource;
        assert.notEqual(found.active, false, `${id} is not merged`);
      }
    });

    test('QCN^J01 (cancel query, ITI-21 continuation) is acknowledged ACK^J01^ACK AA; without QID it is AE 100', async () => {
      const cancel = hl7('QCN^J01^QCN_J01', 'QID|P-9|IHE PDQ Query');
      const answer = await client.send(cancel.text);
      assert.equal(answer.header.getField(9).toString(), 'ACK^J01^ACK');
      assert.deepEqual([ackOf(answer).code, ackOf(answer).controlId], ['AA', cancel.controlId]);
      const bare = ackOf(await client.send(hl7('QCN^J01^QCN_J01').text));
      assert.deepEqual([bare.code, bare.error], ['AE', '100']);
    });
  });
}

for (const driver of testDrivers) {
  describe(`client registry HL7v2 with no identifier domains registered (open directory) on ${driver}`, () => {
    let cr: RegistryUnderTest;
    let client: MllpClient;
    before(async () => {
      cr = await startRegistry(driver);
      client = await MllpClient.connect(cr.running.endpoints.mllp!);
      const ack = ackOf(await client.send(hl7('ADT^A04^ADT_A01', 'PID|1||O-1^^^&2.16.999.7.1&ISO^MR~O-2^^^&2.16.999.7.2&ISO^MR||Open^Ada||19800101|F').text));
      assert.equal(ack.code, 'AA', ack.errorText);
    });
    after(async () => {
      client?.close();
      await cr.close();
    });

    test('ITI-9 case 5: a QPD-4 domain the registry does not know is AE 204 at its repetition (PIXm answers 403 there; it was AE 207)', async () => {
      const known = await client.send(hl7('QBP^Q23^QBP_Q21', 'QPD|IHE PIX Query|O-Q1|O-1^^^&2.16.999.7.1&ISO|^^^&2.16.999.7.2&ISO', 'RCP|I').text);
      assert.equal(ackOf(known).code, 'AA');
      const pix = await client.send(hl7('QBP^Q23^QBP_Q21', 'QPD|IHE PIX Query|O-Q2|O-1^^^&2.16.999.7.1&ISO|^^^&2.16.999.7.2&ISO~^^^&2.16.999.7.9&ISO', 'RCP|I').text);
      assert.deepEqual([ackOf(pix).code, ackOf(pix).error], ['AE', '204']);
      assert.deepEqual(pix.getAllSegments('ERR').map((e) => [e.getField(2).toString(), e.getField(3).getComponent(1)]), [['QPD^1^4^2', '204']]);
      assert.equal(pix.getSegment('QAK')!.getField(2).toString(), 'AE');
    });
  });
}
