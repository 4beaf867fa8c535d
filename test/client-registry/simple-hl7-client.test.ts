/**
 * A real HL7v2 client, simple-hl7 (npm), against the registry's MLLP port: it builds ADT^A04 and
 * QBP^Q23 messages with its own Message API, sends them with its TcpClient (its own MLLP framing)
 * and parses our answers with its own Parser. Both drivers. (The router's tcp channel passes
 * frames byte for byte: router-mllp.test.ts.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { testDrivers } from '../support/databases.js';
import { startRegistry, type RegistryUnderTest } from './support.js';

// simple-hl7 is CommonJS without type declarations.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const hl7 = createRequire(import.meta.url)('simple-hl7') as Any;

const CLINIC_A = ['', '1.3.6.1.4.1.21367.2005.3.7', 'ISO'];
const CLINIC_B = ['', '1.3.6.1.4.1.21367.2005.3.8', 'ISO'];
let sequence = 0;

/** A message built with simple-hl7's API; MSH-10 a fresh control id. */
function message(type: string[]): { message: Any; controlId: string } {
  const controlId = `SH${Date.now().toString(36)}${++sequence}`;
  return { message: new hl7.Message('CLINIC', 'FAC', 'CR', 'MOH', '20240101120000', '', type, controlId, 'P', '2.5'), controlId };
}

/** Sends one message with simple-hl7's TcpClient and answers its parse of the reply. */
function send(port: number, built: Any): Promise<Any> {
  const client = hl7.Server.createTcpClient({ host: '127.0.0.1', port });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer within 30 s')), 30_000);
    client.send(built, (error: Error | null, answer: Any) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(answer);
    });
  });
}

/** A field of a parsed segment as text (simple-hl7's getField answers strings). */
const field = (segment: Any, n: number): string => String(segment?.getField(n) ?? '');

for (const driver of testDrivers) {
  describe(`simple-hl7 as the sender, on ${driver}`, () => {
    let cr: RegistryUnderTest;
    let port: number;
    before(async () => {
      cr = await startRegistry(driver);
      port = Number(new URL(cr.running.endpoints.mllp!.replace(/^mllp:/, 'http:')).port);
    });
    after(async () => cr?.close());

    test('ADT^A04 from two clinics is acknowledged AA with the control id, and QBP^Q23 answers the other clinic\'s number', async () => {
      for (const [authority, value] of [[CLINIC_A, 'SH-A-1'], [CLINIC_B, 'SH-B-7']] as const) {
        const { message: adt, controlId } = message(['ADT', 'A04', 'ADT_A01']);
        adt.addSegment('EVN', 'A04', '20240101120000');
        adt.addSegment('PID', '1', '', [value, '', '', authority, 'MR'], '', ['Mwale', 'Chisomo'], '', '19870305', 'F', '', '', ['12 Lilongwe Road', '', 'Zomba']);
        const ack = await send(port, adt);
        assert.equal(field(ack.getSegment('MSA'), 1), 'AA', ack.log());
        assert.equal(field(ack.getSegment('MSA'), 2), controlId);
        assert.equal(ack.header.getField(7), 'ACK^A04^ACK', 'MSH-9 of the acknowledgement');
        assert.equal(ack.header.getField(3), 'CLINIC', 'MSH-5 is the sender\'s MSH-3');
      }

      const { message: query, controlId } = message(['QBP', 'Q23', 'QBP_Q21']);
      query.addSegment('QPD', 'IHE PIX Query', 'SHQ1', ['SH-A-1', '', '', CLINIC_A]);
      query.addSegment('RCP', 'I');
      const answer = await send(port, query);
      assert.equal(answer.header.getField(7), 'RSP^K23^RSP_K23', answer.log());
      assert.equal(field(answer.getSegment('MSA'), 1), 'AA');
      assert.equal(field(answer.getSegment('MSA'), 2), controlId);
      assert.equal(field(answer.getSegment('QAK'), 1), 'SHQ1');
      assert.equal(field(answer.getSegment('QAK'), 2), 'OK');
      const identifiers = field(answer.getSegment('PID'), 3);
      assert.match(identifiers, /SH-B-7\^\^\^[^~]*1\.3\.6\.1\.4\.1\.21367\.2005\.3\.8/, `PID-3: ${identifiers}`);
      assert.doesNotMatch(identifiers, /SH-A-1/, 'the queried identifier is not repeated back');
    });

    test('an unknown identifier in QBP^Q23 is AE with ERR 204, parsed by simple-hl7', async () => {
      const { message: query } = message(['QBP', 'Q23', 'QBP_Q21']);
      query.addSegment('QPD', 'IHE PIX Query', 'SHQ2', ['NO-SUCH-ONE', '', '', CLINIC_A]);
      query.addSegment('RCP', 'I');
      const answer = await send(port, query);
      assert.equal(field(answer.getSegment('MSA'), 1), 'AE', answer.log());
      assert.equal(field(answer.getSegment('QAK'), 2), 'AE');
      assert.match(field(answer.getSegment('ERR'), 3), /^204\^/);
    });
  });
}
