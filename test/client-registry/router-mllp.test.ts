/**
 * HL7v2 over MLLP through the interoperability layer (both drivers): the package's tcp channel
 * listens on its own port and passes each framed message to the registry's MLLP port; ADT^A01
 * and QBP^Q22 are answered through it, and each message is a transaction in the log. An upstream
 * that is down gets the sender's connection closed and a Failed transaction.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { testDrivers } from '../support/databases.js';
import { startIol, type Iol } from '../interop-layer/support.js';
import { startRegistry, type RegistryUnderTest } from './support.js';
import { ackOf, hl7, MllpClient } from './hl7v2-support.js';
import { freePort } from '../support/cli.js';
import { interpolate } from '../../src/platform/interpolate.js';

const importer = JSON.parse(readFileSync(new URL('../../../packages/client-registry/importer/openhim-config.json', import.meta.url), 'utf8'));
const metadata = JSON.parse(readFileSync(new URL('../../../packages/client-registry/package-metadata.json', import.meta.url), 'utf8'));
/** The channel as init saves it, with the package's defaults (its whitelist: this machine's loopback addresses). */
const mllpChannel = interpolate(importer.Channels.find((c: { type: string }) => c.type === 'tcp'), { ...metadata.environmentVariables, OPENHIM_ROUTER_HOST: '127.0.0.1' }, 'test');

/** The channel's listener starts after the channel is saved (the routing table's change): wait for it. */
async function connectWhenListening(url: string): Promise<MllpClient> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await MllpClient.connect(url);
    } catch (error) {
      if (attempt > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

for (const driver of testDrivers) {
  describe(`client registry HL7v2 through the router's tcp channel on ${driver}`, () => {
    let iol: Iol;
    let cr: RegistryUnderTest;
    let channelId: string;
    let channelUrl: string;

    before(async () => {
      cr = await startRegistry(driver);
      iol = await startIol(driver);
      const tcpPort = await freePort();
      const channel = { ...mllpChannel, tcpHost: '127.0.0.1', tcpPort, routes: [{ ...mllpChannel.routes[0], host: '127.0.0.1', port: Number(new URL(cr.running.endpoints.mllp!.replace(/^mllp:/, 'http:')).port) }] };
      const created = await iol.call('POST', '/channels', channel);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const listed = await iol.call('GET', '/channels');
      channelId = listed.body.find((c: { name: string }) => c.name === mllpChannel.name)._id;
      channelUrl = `mllp://127.0.0.1:${tcpPort}`;
    });
    after(async () => {
      await iol.stop();
      await cr.close();
    });

    test('ADT^A01 and QBP^Q22 are answered through the channel and logged as transactions', async () => {
      const client = await connectWhenListening(channelUrl);
      try {
        const admit = hl7('ADT^A01^ADT_A01', 'EVN|A01|20240101120000', 'PID|1||R-77^^^&2.16.999.7&ISO^MR||Gondwe^Limbani||19910214|M');
        const ack = ackOf(await client.send(admit.text));
        assert.equal(ack.code, 'AA', ack.errorText);
        assert.equal(ack.controlId, admit.controlId);
        const query = hl7('QBP^Q22^QBP_Q21', 'QPD|IHE PDQ Query|Q-77|@PID.5.1.1^GONDWE~@PID.7^19910214', 'RCP|I|10^RD');
        const answer = await client.send(query.text);
        assert.equal(ackOf(answer).code, 'AA');
        assert.equal(answer.getSegment('QAK')?.getField(2)?.toString(), 'OK');
        assert.equal(answer.getAllSegments('PID').length, 1, 'one person found');
        assert.match(answer.getSegment('PID')!.toString(), /R-77/);
      } finally {
        client.close();
      }
      let logged: Array<{ status: string; request: { body?: string }; response?: { status: number; body?: string }; channelID: string }> = [];
      for (let attempt = 0; attempt < 100 && logged.length < 2; attempt++) {
        const listed = await iol.call('GET', `/transactions?filterRepresentation=full&filterLimit=10&filters=${encodeURIComponent(JSON.stringify({ channelID: channelId }))}`);
        logged = listed.body;
        if (logged.length < 2) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(logged.length, 2, 'each message is a transaction');
      const full = await Promise.all(logged.map(async (t) => (await iol.call('GET', `/transactions/${(t as unknown as { _id: string })._id}`)).body));
      for (const tx of full) {
        assert.equal(tx.status, 'Successful');
        assert.equal(tx.channelID, channelId);
        assert.equal(tx.response.status, 200);
        assert.match(tx.response.body, /MSA\|AA/);
      }
      assert.ok(full.some((tx) => /ADT\^A01/.test(tx.request.body)), 'the A01 is stored as sent');
      assert.ok(full.some((tx) => /QBP\^Q22/.test(tx.request.body)));
    });

    test('a sender not on the channel\'s whitelist (CLIENT_REGISTRY_MLLP_CHANNEL_WHITELIST) is closed on, unanswered; the registry never sees its message', async () => {
      assert.deepEqual(mllpChannel.whitelist, ['127.0.0.1', '::1']);
      const { port } = new URL(channelUrl.replace(/^mllp:/, 'http:'));
      // 127.0.0.2 is this machine too, but not an address the whitelist names.
      const socket = net.connect({ port: Number(port), host: '127.0.0.1', localAddress: '127.0.0.2' });
      const admit = hl7('ADT^A01^ADT_A01', 'EVN|A01|20240101120000', 'PID|1||R-STRANGER^^^&2.16.999.7&ISO^MR||Stranger^Ann||19910214|F');
      const answered = await new Promise<string>((resolve) => {
        let data = '';
        socket.on('data', (chunk: Buffer) => {
          data += chunk.toString('latin1');
          if (data.includes('\x1c')) { // an answer came: the whitelist let the sender through
            socket.destroy();
            resolve(data);
          }
        });
        socket.on('close', () => resolve(data));
        socket.on('error', () => resolve(data));
        socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(admit.text), Buffer.from([0x1c, 0x0d])]));
      });
      assert.equal(answered, '', 'no answer');
      const found = await cr.request('GET', 'Patient?family=Stranger');
      assert.equal(found.body.total ?? found.body.entry?.length ?? 0, 0, 'not registered');
    });

    test('one sender address holds at most a quarter of the channel\'s connections (a newcomer takes its oldest idle one\'s place); another address still connects (review finding F11)', async () => {
      const { port } = new URL(channelUrl.replace(/^mllp:/, 'http:'));
      const open = (localAddress: string) => new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect({ port: Number(port), host: '127.0.0.1', localAddress }, () => resolve(socket));
        socket.on('error', reject);
      });
      const closedSoon = (socket: net.Socket) => new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 1000);
        socket.on('close', () => { clearTimeout(timer); resolve(true); });
      });
      const flood: net.Socket[] = [];
      try {
        for (let i = 0; i < 25; i++) flood.push(await open('127.0.0.3'));
        const oldest = closedSoon(flood[0]!);
        const extra = await open('127.0.0.3');
        flood.push(extra);
        assert.equal(await oldest, true, 'the 26th connection of one address takes the place of its oldest idle one');
        assert.equal(await closedSoon(extra), false, 'the newcomer stays: a live sender is not locked out by idle ones');
        const other = await open('127.0.0.1');
        flood.push(other);
        assert.equal(await closedSoon(other), false, 'another address is still taken');
      } finally {
        for (const socket of flood) socket.destroy();
      }
    });

    test('a PID-3 of 12,000 repetitions (review finding 5) gets an AE through the channel, not a router timeout', async () => {
      const client = await connectWhenListening(channelUrl);
      try {
        const ids = Array.from({ length: 12_000 }, (_, i) => `X${i}^^^&2.16.999.7&ISO^MR`).join('~');
        const flood = hl7('ADT^A04^ADT_A01', `PID|1||${ids}||Flood^Ada||19910214|F`);
        const ack = ackOf(await client.send(flood.text));
        assert.deepEqual([ack.code, ack.controlId], ['AE', flood.controlId]);
        assert.match(ack.errorText, /CLIENT_REGISTRY_MAX_REPEATS/);
      } finally {
        client.close();
      }
    });

    test('a Latin-1 message (MSH-18 8859/1) passes the channel byte for byte, both ways (review finding 13)', async () => {
      const msh = 'MSH|^~\\&|CLINIC_A|FAC_A|CR|MOH|20240101120000||ADT^A04^ADT_A01|LAT1|P|2.5||||||8859/1';
      const message = Buffer.from([msh, 'PID|1||R-LAT^^^&2.16.999.7&ISO^MR||Müller^José||19770707|M'].join('\r'), 'latin1');
      const { port } = new URL(channelUrl.replace(/^mllp:/, 'http:'));
      const socket = net.connect(Number(port), '127.0.0.1');
      const chunks: Buffer[] = [];
      const answer = await new Promise<Buffer>((resolve, reject) => {
        socket.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          const all = Buffer.concat(chunks);
          if (all.at(-2) === 0x1c && all.at(-1) === 0x0d) resolve(all);
        });
        socket.once('error', reject);
        socket.write(Buffer.concat([Buffer.of(0x0b), message, Buffer.of(0x1c, 0x0d)]));
      }).finally(() => socket.destroy());
      assert.match(answer.toString('latin1'), /MSA\|AA\|LAT1/);
      const stored = (await cr.request('GET', `Patient?identifier=${encodeURIComponent('urn:oid:2.16.999.7|R-LAT')}`)).body.entry?.[0]?.resource;
      assert.deepEqual(stored?.name?.[0], { family: 'Müller', given: ['José'] });
    });

    test('a sender that half-closes after writing its message (nc -N) gets the registry\'s answer through the channel', async () => {
      const { port } = new URL(channelUrl.replace(/^mllp:/, 'http:'));
      const admit = hl7('ADT^A04^ADT_A01', 'PID|1||R-HALF^^^&2.16.999.7&ISO^MR||Halfclose^Hana||19800101|F');
      const socket = net.connect({ port: Number(port), host: '127.0.0.1', allowHalfOpen: true });
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.once('connect', () => socket.end(Buffer.concat([Buffer.of(0x0b), Buffer.from(admit.text), Buffer.of(0x1c, 0x0d)])));
      await closed;
      assert.match(Buffer.concat(chunks).toString('latin1'), new RegExp(`^\x0bMSH.*\rMSA\|AA\|${admit.controlId}\x1c\r$`, 's'));
    });

    test('an upstream that is down: the connection is closed, the transaction Failed with its error', async () => {
      const tcpPort = await freePort();
      const deadPort = await freePort();
      const channel = { ...mllpChannel, name: 'MLLP to nowhere', tcpHost: '127.0.0.1', tcpPort, routes: [{ ...mllpChannel.routes[0], host: '127.0.0.1', port: deadPort }] };
      assert.equal((await iol.call('POST', '/channels', channel)).status, 201);
      const id = (await iol.call('GET', '/channels')).body.find((c: { name: string }) => c.name === 'MLLP to nowhere')._id;
      const client = await connectWhenListening(`mllp://127.0.0.1:${tcpPort}`);
      client.socket.write(`\x0b${hl7('ADT^A01^ADT_A01', 'PID|1||R-78^^^&2.16.999.7&ISO||Doe^Jo||19900101|F').text}\x1c\r`);
      await client.closed;
      let tx: { status?: string; error?: { message: string } } = {};
      for (let attempt = 0; attempt < 100 && !tx.status; attempt++) {
        const listed = await iol.call('GET', `/transactions?filterRepresentation=full&filterLimit=10&filters=${encodeURIComponent(JSON.stringify({ channelID: id }))}`);
        if (listed.body.length) tx = (await iol.call('GET', `/transactions/${listed.body[0]._id}`)).body;
        if (tx.status === 'Processing') tx = {};
        if (!tx.status) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(tx.status, 'Failed');
      assert.match(tx.error!.message, /MLLP upstream/);
    });
  });
}
