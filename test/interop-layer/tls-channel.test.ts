/**
 * OpenHIM's `tls` channels: a TLS socket server on the channel's tcpPort with the keystore's
 * certificate, carrying MLLP-framed messages to the channel's mllp route like a tcp channel. A
 * keystore change reaches new connections without restarting the listener; a plain-TCP sender
 * gets nothing routed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import selfsigned from 'selfsigned';
import { testDrivers } from '../support/databases.js';
import { startIol, type Iol } from './support.js';
import { startMllpListener, type MllpListener } from '../../src/common/mllp/listener.js';
import { MllpDecoder, frameMessage } from '../../src/common/mllp/framing.js';
import { freePort } from '../support/cli.js';

/** Sends one framed message over TLS; resolves with the answer and the certificate served. */
async function sendOverTls(port: number, message: string): Promise<{ answer: string; fingerprint: string }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => socket.write(frameMessage(message)));
        const decoder = new MllpDecoder(1024 * 1024);
        socket.on('data', (data: Buffer) => {
          for (const event of decoder.push(data)) {
            if (event.kind === 'message') {
              resolve({ answer: event.payload.toString('utf8'), fingerprint: socket.getPeerCertificate().fingerprint });
              socket.end();
            }
          }
        });
        socket.on('error', reject);
        socket.on('close', () => reject(new Error('closed without an answer')));
      });
    } catch (error) {
      // The listener starts after the channel's save reaches the routing table.
      if (attempt > 100 || !/ECONNREFUSED/.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('tls channels', () => {
  let iol: Iol;
  let upstream: MllpListener;
  let tcpPort: number;
  before(async () => {
    upstream = await startMllpListener({
      host: '127.0.0.1',
      port: 0,
      limits: { maxMessageBytes: 1024 * 1024, maxConnections: 10, idleTimeoutMs: 10_000, settings: 'test' },
      answer: async (message) => `ACK|${message}`,
    });
    iol = await startIol(testDrivers[0]!);
    tcpPort = await freePort();
    const channel = {
      name: 'HL7v2 over TLS', urlPattern: '^/hl7-tls$', type: 'tls', tcpHost: '127.0.0.1', tcpPort, authType: 'private',
      routes: [{ name: 'upstream', type: 'mllp', host: '127.0.0.1', port: upstream.port, primary: true }],
    };
    assert.equal((await iol.call('POST', '/channels', channel)).status, 201);
  });
  after(async () => {
    await iol?.stop();
    await upstream?.close();
  });

  test('a framed message over TLS reaches the mllp route, its answer comes back, and it is a transaction', async () => {
    const served = (await iol.call('GET', '/keystore/cert')).body.fingerprint;
    const { answer, fingerprint } = await sendOverTls(tcpPort, 'MSH|^~\\&|LAB');
    assert.equal(answer, 'ACK|MSH|^~\\&|LAB');
    assert.equal(fingerprint, served);
    const transactions = await iol.call('GET', '/transactions?filterRepresentation=full&filterLimit=5');
    assert.equal(transactions.body.length, 1);
    assert.equal(transactions.body[0].status, 'Successful');
  });

  test('plain TCP to the TLS port routes nothing', async () => {
    const closed = await new Promise<string>((resolve) => {
      const socket = net.connect(tcpPort, '127.0.0.1', () => socket.write(frameMessage('MSH|plain')));
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(got));
    });
    assert.doesNotMatch(closed, /ACK/);
    assert.equal((await iol.call('GET', '/transactions?filterRepresentation=full&filterLimit=5')).body.length, 1);
  });

  test('a replaced keystore certificate is served to new connections without restarting the listener', async () => {
    const pair = await selfsigned.generate([{ name: 'commonName', value: 'hl7.example.org' }], { keyType: 'ec', algorithm: 'sha256' });
    assert.equal((await iol.call('POST', '/keystore/cert', { cert: pair.cert })).status, 201);
    assert.equal((await iol.call('POST', '/keystore/key', { key: pair.private })).status, 201);
    const { answer, fingerprint } = await sendOverTls(tcpPort, 'MSH|again');
    assert.equal(answer, 'ACK|MSH|again');
    assert.equal(fingerprint, new X509Certificate(pair.cert).fingerprint);
  });
});
