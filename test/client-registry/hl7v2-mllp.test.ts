/** The MLLP decoder and HL7 escaping, as pure code (no socket). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hl7Message } from '@medplum/core';
import net from 'node:net';
import { frameMessage, MllpDecoder } from '../../src/common/mllp/framing.js';
import { startMllpListener } from '../../src/common/mllp/listener.js';
import { DEFAULT_CONTEXT, escapeValue, unescapeValue, value } from '../../src/services/client-registry/hl7v2/encoding.js';

const messages = (events: ReturnType<MllpDecoder['push']>) => events.map((e) => (e.kind === 'message' ? e.payload.toString() : `!${e.problem}`));

test('frames split anywhere, several per chunk, whitespace between them', () => {
  const decoder = new MllpDecoder(100);
  const bytes = Buffer.concat([frameMessage('MSH|one'), Buffer.from('\r\n'), frameMessage('MSH|two')]);
  const seen: string[] = [];
  for (let i = 0; i < bytes.length; i += 3) seen.push(...messages(decoder.push(bytes.subarray(i, i + 3))));
  assert.deepEqual(seen, ['MSH|one', 'MSH|two']);
  assert.equal(decoder.partial, false);
});

test('bytes outside a frame, FS without CR, a VT inside a frame and an oversized frame are problems; the decoder stops', () => {
  assert.deepEqual(messages(new MllpDecoder(100).push(Buffer.from('MSH|x'))), ['!unframed']);
  assert.deepEqual(messages(new MllpDecoder(100).push(Buffer.from('\x0bMSH\x1cX'))), ['!unframed']);
  assert.deepEqual(messages(new MllpDecoder(100).push(Buffer.from('\x0bMSH\x0bMSH\x1c\r'))), ['!unframed']);
  const small = new MllpDecoder(10);
  assert.deepEqual(messages(small.push(Buffer.from('\x0b123456'))), []);
  assert.equal(small.partial, true);
  assert.deepEqual(messages(small.push(Buffer.from('7890X\x1c\r'))), ['!too-large']);
  assert.deepEqual(messages(small.push(frameMessage('ok'))), [], 'a broken stream yields nothing more');
});

test('escape sequences round-trip and are decoded when reading', () => {
  const text = 'Smith|Jones^Jr & Co~\\x';
  assert.equal(unescapeValue(escapeValue(text), DEFAULT_CONTEXT), text);
  const message = Hl7Message.parse('MSH|^~\\&|A\rPID|1||||O\\S\\Brien^Ann');
  assert.equal(value(message.getSegment('PID'), 5, 1), 'O^Brien');
  assert.equal(value(message.getSegment('PID'), 9, 3), '', 'an absent field reads as empty');
  // v2.5 2.7.4: hexadecimal data, read as UTF-8 (else Latin-1); formatting sequences dropped.
  assert.equal(unescapeValue('Ren\\XC3A9\\e', DEFAULT_CONTEXT), 'Renée');
  assert.equal(unescapeValue('Ren\\XE9\\e', DEFAULT_CONTEXT), 'Renée');
  assert.equal(unescapeValue('A\\X4\\B\\H\\C\\N\\', DEFAULT_CONTEXT), 'ABC', 'odd hex and highlighting are dropped');
});

test('a sender that half-closes after its messages (shutdown of its side, as `nc -N` does) still gets every answer, then the connection ends', async () => {
  const listener = await startMllpListener({
    host: '127.0.0.1', port: 0, limits: { maxMessageBytes: 1000, maxConnections: 4, idleTimeoutMs: 5000, settings: 'test' },
    answer: async (message) => {
      await new Promise((resolve) => setTimeout(resolve, 20)); // an answer that takes a while, as a registry lookup or a routed upstream does
      return `ACK ${message}`;
    },
  });
  try {
    const socket = net.connect({ port: listener.port, host: '127.0.0.1', allowHalfOpen: true });
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.once('connect', () => socket.end(Buffer.concat([frameMessage('MSH|one'), frameMessage('MSH|two')])));
    await closed;
    assert.equal(Buffer.concat(received).toString(), `${frameMessage('ACK MSH|one').toString()}${frameMessage('ACK MSH|two').toString()}`);
  } finally {
    await listener.close();
  }
});
