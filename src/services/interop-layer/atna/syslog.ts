/**
 * Syslog as ATNA audit messages travel in it (IHE ITI-20): the header of RFC 5424 (and the older
 * RFC 3164 form some senders still use), read into the fields OpenHIM stores (its glossy parser:
 * prival, facility, severity, time, host, appName, pid, msgID), and the octet-counting framing of
 * syslog over TCP and TLS (RFC 5425 / RFC 6587: `MSG-LEN SP SYSLOG-MSG`), as OpenHIM's audit
 * servers read it.
 */
import type { MllpEvent } from '../../../common/mllp/framing.js';
import type { MessageDecoder } from '../../../common/mllp/listener.js';

/** glossy's names, so stored records read as OpenHIM's do. */
const FACILITIES = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'clock', 'sec', 'ftp', 'ntp', 'audit', 'alert', 'clock', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'];
const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug'];

export interface SyslogHeader {
  prival?: number;
  facilityID?: number;
  severityID?: number;
  facility?: string;
  severity?: string;
  type: 'RFC5424' | 'RFC3164' | 'none';
  time?: string;
  host?: string;
  appName?: string;
  pid?: string;
  msgID?: string;
}

export interface SyslogMessage {
  header: SyslogHeader;
  /** The MSG part: for ATNA, the audit message's XML. */
  message: string;
}

/** RFC 5424's NILVALUE is `-`. */
const value = (field: string | undefined) => (field === undefined || field === '-' ? undefined : field.slice(0, 255));

function priority(prival: number): Pick<SyslogHeader, 'prival' | 'facilityID' | 'severityID' | 'facility' | 'severity'> {
  const facilityID = Math.floor(prival / 8);
  const severityID = prival % 8;
  return { prival, facilityID, severityID, facility: FACILITIES[facilityID], severity: SEVERITIES[severityID] };
}

function isoTime(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** Skips RFC 5424 STRUCTURED-DATA (`-` or `[id k="v" ...]...`, `\]` and `\"` escaped); the index after it, or -1. */
function skipStructuredData(text: string, at: number): number {
  if (text[at] === '-') return at + 1;
  let i = at;
  while (text[i] === '[') {
    let quoted = false;
    for (i += 1; i < text.length; i += 1) {
      const c = text[i];
      if (c === '\\') i += 1;
      else if (c === '"') quoted = !quoted;
      else if (c === ']' && !quoted) break;
    }
    if (i >= text.length) return -1;
    i += 1;
  }
  return i === at ? -1 : i;
}

/**
 * The header and message of one syslog message. A message with no header it can read (no
 * `<PRI>`) is all message, type `none`, as a receiver should still keep what it was sent.
 */
export function parseSyslog(raw: string): SyslogMessage {
  const pri = /^<(\d{1,3})>/.exec(raw);
  if (!pri || Number(pri[1]) > 191) return { header: { type: 'none' }, message: raw };
  const base = priority(Number(pri[1]));
  const rest = raw.slice(pri[0].length);
  // RFC 5424: VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]
  const modern = /^(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(rest);
  if (modern) {
    const after = skipStructuredData(rest, modern[0].length);
    if (after >= 0) {
      let message = rest.slice(after).replace(/^ /, '');
      if (message.startsWith('\uFEFF')) message = message.slice(1);
      return {
        header: { ...base, type: 'RFC5424', time: isoTime(value(modern[2])), host: value(modern[3]), appName: value(modern[4]), pid: value(modern[5]), msgID: value(modern[6]) },
        message,
      };
    }
  }
  // RFC 3164: TIMESTAMP ("Mmm dd hh:mm:ss") SP HOSTNAME SP TAG[pid]: MSG; the message from the XML on when there is XML.
  const bsd = /^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) ([^\s:[]+)(?:\[([^\]\s]+)\])?:? ?/.exec(rest);
  const xmlAt = rest.search(/<\?xml|<AuditMessage/);
  const message = xmlAt >= 0 ? rest.slice(xmlAt) : bsd ? rest.slice(bsd[0].length) : rest;
  return {
    header: { ...base, type: 'RFC3164', ...(bsd ? { time: isoTime(`${bsd[1]} ${new Date().getUTCFullYear()} UTC`), host: bsd[2], appName: bsd[3], ...(bsd[4] ? { pid: bsd[4] } : {}) } : {}) },
    message,
  };
}

/**
 * Syslog over a stream (RFC 5425 §4.3, RFC 6587 §3.4.1): each message is `MSG-LEN SP SYSLOG-MSG`,
 * MSG-LEN its length in octets. A length that is not a number of at most 10 digits, or is over
 * the cap, ends the stream (the connection is closed).
 */
export class OctetCountingDecoder implements MessageDecoder {
  /** The length prefix read so far (at most 10 digits). */
  private header = '';
  /**
   * While reading a message: its bytes, in a buffer of the declared size (copied into as they come:
   * a message sent a byte at a time costs its size, not an object per byte), and how many are in.
   */
  private body: Buffer | undefined;
  private filled = 0;
  private broken = false;

  constructor(private readonly maxMessageBytes: number) {}

  /** Linear in the bytes pushed: each byte is looked at or copied once. */
  push(data: Buffer): MllpEvent[] {
    const events: MllpEvent[] = [];
    let at = 0;
    while (at < data.length && !this.broken) {
      if (this.body) {
        const take = Math.min(this.body.length - this.filled, data.length - at);
        data.copy(this.body, this.filled, at, at + take);
        this.filled += take;
        at += take;
        if (this.filled === this.body.length) {
          events.push({ kind: 'message', payload: this.body });
          this.body = undefined;
        }
        continue;
      }
      const byte = data[at++]!;
      // Senders may put line breaks between messages (non-transparent framing's habit).
      if ((byte === 0x0a || byte === 0x0d) && this.header === '') continue;
      if (byte !== 0x20) {
        if (byte < 0x30 || byte > 0x39 || this.header.length >= 10 || (this.header === '' && byte === 0x30)) return this.fail(events, 'unframed');
        this.header += String.fromCharCode(byte);
        continue;
      }
      if (this.header === '') return this.fail(events, 'unframed');
      const size = Number(this.header);
      this.header = '';
      if (size > this.maxMessageBytes) return this.fail(events, 'too-large');
      this.body = Buffer.allocUnsafe(size);
      this.filled = 0;
    }
    return events;
  }

  private fail(events: MllpEvent[], problem: 'unframed' | 'too-large'): MllpEvent[] {
    this.broken = true;
    this.body = undefined;
    return [...events, { kind: 'problem', problem }];
  }
}
