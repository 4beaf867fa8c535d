/**
 * The ATNA audit record repository's syslog listeners (IHE ITI-20 "Record Audit Event"; OpenHIM's
 * optional audit servers, `auditing.servers` udp/tls/tcp): each message is a syslog message whose
 * MSG is a DICOM AuditMessage; it is stored as OpenHIM stores it (the record read from the XML,
 * the raw message, the syslog header) and served by GET /audits. A message whose XML cannot be read
 * is kept anyway with its raw text (as OpenHIM keeps it), so no received audit is lost.
 * Bounds: a message size cap, a connection cap and an idle time (the MLLP listener's), the
 * octet-counting framing's checks, and for UDP (no back-pressure possible) a cap on messages being
 * stored at once: past it datagrams are dropped and counted, as UDP syslog may lose messages. And a
 * rate per sender address (OPENHIM_AUDIT_MAX_MESSAGES_PER_SECOND): past it that sender's messages
 * are dropped and counted, so a burst of tiny messages (a sender gone, megabytes of its backlog
 * still queued in the kernel) drains at read speed instead of holding the server busy storing
 * garbage, and one sender's flood never spends another's budget.
 * What is said about dropped and unreadable messages is said at most every 10 s, with a count.
 */
import dgram from 'node:dgram';
import type { Logger } from '../../../common/logger.js';
import { startMllpListener, type MllpListener } from '../../../common/mllp/listener.js';
import { secureContextOptions, type LiveTls } from '../keystore/live-tls.js';
import type { AuditLog } from '../store/audits.js';
import { auditRecordFromXml } from './audit-message-xml.js';
import { parseAtnaRecord, type AtnaRecord } from './record.js';
import { OctetCountingDecoder, parseSyslog } from './syslog.js';
import { RateBudgets, ThrottledNotice } from '../../../common/rate-budget.js';

export interface AuditServerConfig {
  host: string;
  /** 0: that listener is off. */
  udpPort: number;
  tcpPort: number;
  tlsPort: number;
  maxMessageBytes: number;
  maxConnections: number;
  idleTimeoutMs: number;
  maxMessagesPerSecond: number;
}

/** UDP messages being stored at once; past it a datagram is dropped. */
const MAX_UDP_IN_FLIGHT = 64;

/** The record OpenHIM would store for one received message. */
export function recordOfMessage(raw: string): { record: AtnaRecord; problem?: string } {
  const { header, message } = parseSyslog(raw);
  const syslog = Object.fromEntries(Object.entries(header).filter(([key, v]) => v !== undefined && !(key === 'type' && v === 'none')));
  const kept = (problem: string) => ({ record: parseAtnaRecord({ eventIdentification: {}, rawMessage: raw, syslog }), problem });
  let fromXml: Record<string, unknown>;
  try {
    fromXml = auditRecordFromXml(message);
  } catch (error) {
    return kept(`its XML is not an AuditMessage (${(error as Error).message.slice(0, 200)})`);
  }
  try {
    return { record: parseAtnaRecord({ ...fromXml, rawMessage: raw, syslog }) };
  } catch (error) {
    return kept(`it is not a valid audit record (${(error as Error).message.slice(0, 300)})`);
  }
}

export interface AuditServers {
  /** The URL of each listener that is on (`syslog+udp://...`, `syslog+tcp://...`, `syslog+tls://...`). */
  urls: Record<string, string>;
  close(): Promise<void>;
}

export async function startAuditServers(config: AuditServerConfig, audits: AuditLog, tls: LiveTls, logger: Logger): Promise<AuditServers> {
  const urls: Record<string, string> = {};
  const closers: Array<() => Promise<void>> = [];
  const NOTICE_MS = 10_000;
  const budgets = new RateBudgets(config.maxMessagesPerSecond);
  const overRate = new ThrottledNotice(NOTICE_MS, (count) =>
    logger.warn({ dropped: count }, `ATNA audit messages dropped: a sender over ${config.maxMessagesPerSecond} a second (OPENHIM_AUDIT_MAX_MESSAGES_PER_SECOND)`),
  );
  let lastRaw: { remote: string; transport: string; problem: string } | undefined;
  const keptRaw = new ThrottledNotice(NOTICE_MS, (count) => logger.warn({ ...lastRaw, count }, `ATNA audit messages kept with their raw text only, e.g. because ${lastRaw?.problem}`));
  let lastUdpDrop = '';
  const droppedUdp = new ThrottledNotice(NOTICE_MS, (count) =>
    logger.warn({ dropped: count, remote: lastUdpDrop }, `ATNA audit datagrams dropped (over ${config.maxMessageBytes} bytes, or ${MAX_UDP_IN_FLIGHT} being stored already)`),
  );

  /** Stores one message; resolves when it is stored (the TCP/TLS sender's next message waits for it). */
  const store = async (raw: string, remote: string, transport: string): Promise<void> => {
    if (!budgets.take(remote)) return overRate.happened();
    const { record, problem } = recordOfMessage(raw);
    if (problem) {
      lastRaw = { remote, transport, problem };
      keptRaw.happened();
    }
    try {
      await audits.recordAtna(record, true);
    } catch (error) {
      logger.error({ remote, transport, err: { message: (error as Error).message } }, 'ATNA audit message could not be stored');
    }
  };

  const limits = { maxMessageBytes: config.maxMessageBytes, maxConnections: config.maxConnections, idleTimeoutMs: config.idleTimeoutMs, settings: 'OPENHIM_AUDIT_*' };
  const streams: Array<{ port: number; name: 'tcp' | 'tls' }> = [
    { port: config.tcpPort, name: 'tcp' },
    { port: config.tlsPort, name: 'tls' },
  ];
  try {
    for (const { port, name } of streams) {
      if (port <= 0) continue;
      const identity = name === 'tls' ? tls.current() : undefined;
      if (name === 'tls' && !identity) throw new Error('the ATNA audit TLS listener needs the keystore\'s certificate, which cannot be served');
      const listener: MllpListener = await startMllpListener({
        host: config.host,
        port,
        limits,
        logger,
        decoder: (max) => new OctetCountingDecoder(max),
        oneWay: true,
        // Senders are many systems: one address holds at most a quarter of the connections.
        perAddressShare: 0.25,
        scheme: `syslog+${name}`,
        // As OpenHIM's audit TLS server: the keystore's certificate, client certificates asked for against its trusted list.
        ...(identity ? { tls: secureContextOptions(identity, true) } : {}),
        answer: async (message, remote) => {
          await store(message, remote.address, name);
          return undefined;
        },
      });
      if (name === 'tls') tls.onChange((next) => listener.setSecureContext?.(secureContextOptions(next, true)));
      urls[`audit${name === 'tcp' ? 'Tcp' : 'Tls'}`] = listener.url;
      closers.push(() => listener.close());
    }
    if (config.udpPort > 0) {
      const socket = dgram.createSocket(config.host.includes(':') ? 'udp6' : 'udp4');
      let inFlight = 0;
      socket.on('message', (message, remote) => {
        if (message.length > config.maxMessageBytes || inFlight >= MAX_UDP_IN_FLIGHT) {
          lastUdpDrop = remote.address;
          return droppedUdp.happened();
        }
        inFlight += 1;
        void store(message.toString('utf8'), remote.address, 'udp').finally(() => {
          inFlight -= 1;
        });
      });
      socket.on('error', (error) => logger.warn({ err: { message: error.message } }, 'ATNA audit UDP listener error'));
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(config.udpPort, config.host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      const shownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
      urls.auditUdp = `syslog+udp://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${socket.address().port}`;
      closers.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    }
  } catch (error) {
    await Promise.allSettled(closers.map((close) => close()));
    throw error;
  }
  if (Object.keys(urls).length) logger.info({ listeners: urls }, 'ATNA audit record repository listening');
  return {
    urls,
    async close() {
      await Promise.allSettled(closers.map((close) => close()));
    },
  };
}
