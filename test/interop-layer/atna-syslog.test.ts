/**
 * The ATNA audit record repository's syslog listeners (IHE ITI-20; OpenHIM's audit servers):
 * messages built and wrapped by atna-audit (the library OpenHIM itself sends its audits with)
 * over UDP, TCP and TLS with octet-counting framing, as OpenHIM's sendUDPAudit/sendTCPAudit/
 * sendTLSAudit send them, are stored as OpenHIM stores them (the record read from the XML, the raw
 * message, the syslog header) and listed by GET /audits. Hostile senders: bad framing closes the
 * connection, an oversized message is not stored, a DTD is never expanded, XML that is not an
 * AuditMessage is kept with its raw text only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { createRequire } from 'node:module';
import { testDrivers } from '../support/databases.js';
import { freePort } from '../support/cli.js';
import { eventually, startIol, type Iol } from './support.js';

const atna = createRequire(import.meta.url)('atna-audit') as {
  constants: Record<string, number>;
  construct: { userLoginAudit(...args: unknown[]): string; wrapInSyslog(xml: string): string };
};

/** A login audit of `user`, wrapped in syslog, as OpenHIM's own server sends it. */
const loginAudit = (user: string, outcome = atna.constants.OUTCOME_SUCCESS) =>
  atna.construct.wrapInSyslog(atna.construct.userLoginAudit(outcome, 'openhim', 'node-a', user, 'admin', '1.2.3'));
const framed = (message: string) => `${Buffer.byteLength(message)} ${message}`;

function sendUdp(port: number, message: string | Buffer): Promise<void> {
  const client = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => client.send(message, port, '127.0.0.1', (error) => (client.close(), error ? reject(error) : resolve())));
}

/** Writes the chunks in turn and waits until the server closes or `settleMs` passes; true when the server closed the connection. */
async function sendStream(connect: () => net.Socket, chunks: Array<string | Buffer>, settleMs = 300): Promise<boolean> {
  const socket = connect();
  let closed = false;
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once(socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => resolve());
    socket.once('error', reject);
  });
  for (const chunk of chunks) {
    socket.write(chunk);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const closedByServer = closed;
  socket.destroy();
  return closedByServer;
}

/** Messages stored a second (OPENHIM_AUDIT_MAX_MESSAGES_PER_SECOND) in these tests. */
const RATE = 50;

for (const driver of testDrivers) {
  describe(`ATNA audit repository over syslog on ${driver}`, () => {
    let iol: Iol;
    const ports = { udp: 0, tcp: 0, tls: 0 };
    const tcp = () => net.connect(ports.tcp, '127.0.0.1');
    const tlsConnect = () => tls.connect({ port: ports.tls, host: '127.0.0.1', rejectUnauthorized: false });
    const audits = async (filters: Record<string, unknown>) => {
      const res = await iol.call('GET', `/audits?${new URLSearchParams({ filters: JSON.stringify(filters), filterRepresentation: 'full', filterLimit: '100' })}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body as Array<Record<string, any>>;
    };
    const loginsOf = (user: string) => audits({ 'activeParticipant.userID': user });
    const rawOnly = async () =>
      (await iol.t.db.query<{ atna: any }>(`SELECT atna FROM iol.audits WHERE atna IS NOT NULL AND atna->'eventIdentification'->'eventID' IS NULL`)).rows.map((r) => r.atna);

    before(async () => {
      Object.assign(ports, { udp: await freePort(), tcp: await freePort(), tls: await freePort() });
      iol = await startIol(driver, {
        OPENHIM_AUDIT_UDP_PORT: String(ports.udp),
        OPENHIM_AUDIT_TCP_PORT: String(ports.tcp),
        OPENHIM_AUDIT_TLS_PORT: String(ports.tls),
        OPENHIM_AUDIT_MAX_MESSAGE_BYTES: String(16 * 1024),
        OPENHIM_AUDIT_MAX_CONNECTIONS: '5',
        OPENHIM_AUDIT_MAX_MESSAGES_PER_SECOND: String(RATE),
      });
    });
    after(async () => {
      await iol?.stop();
    });

    test('the service reports its audit listeners', () => {
      assert.equal(iol.running.endpoints.auditUdp, `syslog+udp://127.0.0.1:${ports.udp}`);
      assert.equal(iol.running.endpoints.auditTcp, `syslog+tcp://127.0.0.1:${ports.tcp}`);
      assert.equal(iol.running.endpoints.auditTls, `syslog+tls://127.0.0.1:${ports.tls}`);
    });

    test('UDP: an atna-audit message is stored as OpenHIM stores it: the record from the XML, the raw message, the syslog header', async () => {
      const message = loginAudit('udp-user');
      await sendUdp(ports.udp, message);
      const [audit] = await eventually(async () => {
        const found = await loginsOf('udp-user');
        return found.length > 0 && found;
      }, 'the UDP audit');
      assert.deepEqual(audit!.eventIdentification.eventID, { code: '110114', displayName: 'UserAuthenticated', codeSystemName: 'DCM' });
      assert.deepEqual(audit!.eventIdentification.eventTypeCode, { code: '110122', displayName: 'Login', codeSystemName: 'DCM' });
      assert.equal(audit!.eventIdentification.eventActionCode, 'E');
      assert.equal(audit!.eventIdentification.eventOutcomeIndicator, '0');
      assert.equal(audit!.activeParticipant.length, 2);
      assert.deepEqual(audit!.activeParticipant[0], { userID: 'openhim', alternativeUserID: '', userIsRequestor: 'false', networkAccessPointID: 'node-a', networkAccessPointTypeCode: '1', roleIDCode: { code: '110150', displayName: 'Application', codeSystemName: 'DCM' } });
      assert.equal(audit!.activeParticipant[1].userID, 'udp-user');
      assert.equal(audit!.auditSourceIdentification.auditSourceID, 'openhim');
      assert.equal(audit!.rawMessage, message);
      assert.equal(audit!.syslog.prival, 85);
      assert.equal(audit!.syslog.facilityID, 10);
      assert.equal(audit!.syslog.severity, 'notice');
      assert.equal(audit!.syslog.type, 'RFC5424');
      assert.equal(audit!.syslog.appName, 'atna-audit.js');
      assert.equal(audit!.syslog.msgID, 'IHE+RFC-3881');
      assert.ok(!Number.isNaN(Date.parse(audit!.syslog.time)));
      // Filters reach received records like posted ones.
      assert.deepEqual((await audits({ 'eventIdentification.eventTypeCode.code': '110122', 'activeParticipant.userID': 'udp-user' })).length, 1);
    });

    test('TCP: octet-counted messages, several in one write and one split across writes, each stored', async () => {
      const [a, b, c] = ['tcp-a', 'tcp-b', 'tcp-c'].map((user) => framed(loginAudit(user)));
      const closed = await sendStream(tcp, [a! + b!, c!.slice(0, 50), c!.slice(50)]);
      assert.equal(closed, false, 'a syslog connection stays open between messages');
      for (const user of ['tcp-a', 'tcp-b', 'tcp-c']) await eventually(async () => (await loginsOf(user)).length === 1, `${user}'s audit`);
    });

    test('TLS: the keystore\'s certificate, octet-counted messages; a failed login\'s outcome kept', async () => {
      await sendStream(tlsConnect, [framed(loginAudit('tls-user', atna.constants.OUTCOME_SERIOUS_FAILURE))]);
      const [audit] = await eventually(async () => {
        const found = await loginsOf('tls-user');
        return found.length > 0 && found;
      }, 'the TLS audit');
      assert.equal(audit!.eventIdentification.eventOutcomeIndicator, '8');
      assert.equal((await audits({ 'eventIdentification.eventOutcomeIndicator': '8', 'activeParticipant.userID': 'tls-user' })).length, 1);
    });

    test('bad framing closes the connection and stores nothing of it', async () => {
      const before = (await iol.t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM iol.audits WHERE atna ? 'syslog'`)).rows[0]!.n;
      for (const chunks of [['hello world'], ['99999999999 x'], ['-5 abc'], [`${16 * 1024 + 1} ${'x'.repeat(100)}`], ['0123456789012345']]) {
        assert.equal(await sendStream(tcp, chunks, 500), true, `the server closes a connection sending ${JSON.stringify(chunks[0]!.slice(0, 30))}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      const now = (await iol.t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM iol.audits WHERE atna ? 'syslog'`)).rows[0]!.n;
      assert.equal(now, before);
    });

    test('a message that is not an AuditMessage is kept with its raw text only; a DTD is never expanded; an oversized datagram is dropped', async () => {
      const notXml = '<13>1 2026-12-02T10:00:00Z host app 1 ID - not an audit message';
      const billion = `<85>1 2026-12-02T10:00:00Z host app 1 ID - <?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxxxx"><!ENTITY y "&x;&x;&x;&x;&x;&x;&x;&x;&x;&x;">]><AuditMessage><EventIdentification EventActionCode="&y;"/></AuditMessage>`;
      const external = '<85>1 2026-12-02T10:00:00Z host app 1 ID - <?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><AuditMessage><EventIdentification EventActionCode="&e;"/></AuditMessage>';
      const wrongRoot = '<85>1 2026-12-02T10:00:00Z host app 1 ID - <Other/>';
      for (const message of [notXml, billion, external, wrongRoot]) await sendUdp(ports.udp, message);
      await sendUdp(ports.udp, loginAudit('x'.repeat(17 * 1024)));
      const kept = await eventually(async () => {
        const rows = await rawOnly();
        return rows.length >= 4 && rows;
      }, 'the raw messages kept');
      const raws = kept.map((r) => r.rawMessage);
      for (const message of [notXml, billion, external, wrongRoot]) assert.ok(raws.includes(message), message.slice(0, 60));
      assert.ok(!JSON.stringify(kept).includes('root:'), 'no external entity read');
      assert.ok(!JSON.stringify(kept).includes('xxxxxxxxxxxxxxxxxxxx'), 'no entity expanded');
      assert.equal(kept.find((r) => r.rawMessage === notXml).syslog.appName, 'app');
      const oversized = (await iol.t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM iol.audits WHERE length(atna->>'rawMessage') > 16384`)).rows[0]!.n;
      assert.equal(oversized, 0, 'a datagram over OPENHIM_AUDIT_MAX_MESSAGE_BYTES is not stored');
    });

    test('a stream of line breaks costs nothing and breaks nothing: the next message on the connection is stored', async () => {
      const socket = tcp();
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.once('connect', resolve));
      const started = Date.now();
      for (let i = 0; i < 64; i += 1) socket.write(Buffer.alloc(64 * 1024, 0x0a));
      socket.write(framed(loginAudit('after-newlines')));
      await eventually(async () => (await loginsOf('after-newlines')).length === 1, 'the message after 4 MiB of line breaks');
      const heartbeat = Date.now();
      assert.equal((await iol.call('GET', '/heartbeat')).status, 200);
      assert.ok(Date.now() - heartbeat < 1000, 'the process answers at once');
      assert.ok(Date.now() - started < 10_000);
      socket.destroy();
    });

    test('the TLS port counts connections still in their handshake: silent sockets beyond the cap make way, real senders get in', async () => {
      const sockets = await Promise.all(Array.from({ length: 20 }, () => new Promise<net.Socket>((resolve) => {
        const socket = net.connect(ports.tls, '127.0.0.1', () => resolve(socket));
        socket.on('error', () => undefined);
      })));
      await new Promise((resolve) => setTimeout(resolve, 500));
      const closed = sockets.filter((s) => s.destroyed || s.readyState === 'closed' || !s.writable).length;
      assert.ok(closed >= 10, `${closed} of 20 silent sockets closed (cap 5 established, as many handshaking)`);
      // While the silent sockets still hold the cap, a real sender takes the place of the oldest.
      await sendStream(tlsConnect, [framed(loginAudit('tls-after-silence'))]);
      await eventually(async () => (await loginsOf('tls-after-silence')).length === 1, 'a TLS audit beside the silent sockets');
      for (const socket of sockets) socket.destroy();
    });

    test('a burst of tiny messages from a sender that leaves drains at read speed: stored at its rate, the rest dropped and counted; other senders unaffected', async () => {
      const socket = tcp();
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.once('connect', resolve));
      const started = Date.now();
      // 300,000 one-byte messages (900 KB), then gone: the kernel still holds most of it for the server.
      socket.end(Buffer.from('1 x'.repeat(300_000)));
      // Another sender (another address) is stored at once: the flood spends only its own budget.
      const other = () => net.connect({ port: ports.tcp, host: '127.0.0.1', localAddress: '127.0.0.2' });
      await sendStream(other, [framed(loginAudit('beside-burst'))]);
      await eventually(async () => (await loginsOf('beside-burst')).length === 1, 'another sender\'s message during the burst');
      // The burst drains: what is stored of it stops growing, soon, at about the rate.
      const burstRows = async () => (await rawOnly()).filter((r) => r.rawMessage === 'x').length;
      let last = -1;
      const kept = await eventually(async () => {
        const now = await burstRows();
        const settled = now === last;
        last = now;
        if (settled) return now + 1; // (+1: eventually wants a truthy value)
        await new Promise((resolve) => setTimeout(resolve, 500));
        return undefined;
      }, 'the burst drained', 60).then((n) => n - 1);
      const seconds = (Date.now() - started) / 1000;
      assert.ok(seconds < 20, `drained in ${seconds} s`);
      assert.ok(kept <= 2 * RATE + RATE * seconds + 10, `${kept} of the burst stored in ${seconds} s at ${RATE} a second`);
      // Said with a count, not once a message.
      const warnings = (await iol.call('GET', '/logs?level=warn')).body as Array<{ message: string }>;
      const dropped = warnings.filter((w) => w.message.startsWith('ATNA audit messages dropped'));
      assert.ok(dropped.length >= 1 && dropped.length <= 5, `${dropped.length} warnings about drops`);
      assert.ok(warnings.filter((w) => w.message.startsWith('ATNA audit messages kept with their raw text')).length <= 5);
    });

    test('one sender address holds at most its share of the connections (a newcomer from it takes its oldest idle one\'s place); other senders still get in', async () => {
      const from = (address: string) => new Promise<net.Socket>((resolve) => {
        const socket = net.connect({ port: ports.tcp, host: '127.0.0.1', localAddress: address }, () => resolve(socket));
        socket.on('error', () => undefined);
      });
      // OPENHIM_AUDIT_MAX_CONNECTIONS 5 here: a share of 2 for one address.
      const closed = (socket: net.Socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
      const held = [await from('127.0.0.4'), await from('127.0.0.4')];
      const third = await from('127.0.0.4');
      await closed(held[0]!); // idle, never sent a byte: a sender that left it open, or a flood's
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.ok(!held[1]!.destroyed && !third.destroyed, 'the newer two stay: one address still holds two');
      // The newest can send: a live sender behind a stale or flooding one is not locked out.
      third.write(framed(loginAudit('after-share')));
      await eventually(async () => (await loginsOf('after-share')).length === 1, 'the newcomer\'s message');
      const other = () => net.connect({ port: ports.tcp, host: '127.0.0.1', localAddress: '127.0.0.5' });
      await sendStream(other, [framed(loginAudit('beside-share'))]);
      await eventually(async () => (await loginsOf('beside-share')).length === 1, 'another address\'s message');
      for (const socket of [...held, third]) socket.destroy();
    });

    test('a flood of datagrams leaves the repository answering and bounded', async () => {
      const message = loginAudit('flood-user');
      await Promise.all(Array.from({ length: 500 }, () => sendUdp(ports.udp, message)));
      await eventually(async () => (await loginsOf('flood-user')).length > 0, 'some of the flood stored');
      assert.equal((await iol.call('GET', '/heartbeat')).status, 200);
      const stored = (await iol.t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM iol.audits WHERE atna->'activeParticipant'->1->>'userID' = 'flood-user'`)).rows[0]!.n;
      assert.ok(stored <= 500, `${stored} stored`);
    });
  });
}
