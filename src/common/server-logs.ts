/**
 * The process's recent log records, kept in memory for the interop layer's `GET /logs` (OpenHIM's
 * server logs: winston's records in a capped MongoDB collection, read by its console). A pino
 * destination: each JSON line becomes a record in winston's shape ({ timestamp, level, message,
 * label, meta }), already redacted by the logger. Bounded by bytes, the oldest dropped first, so a flood of
 * log lines costs at most MAX_BYTES; a record's message and meta are cut to fit one record's share.
 */
import { Writable } from 'node:stream';

export type ServerLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ServerLogRecord {
  timestamp: string;
  level: ServerLogLevel;
  message: string;
  /**
   * Which part of the server wrote it: the service (`meta.service`), else `main`. winston-mongodb
   * stores its transport's label with each record (OpenHIM's: `master`, `worker<n>`), and the
   * OpenHIM console's logs page prints it (`[label]`).
   */
  label: string;
  meta: Record<string, unknown>;
}

export interface ServerLogQuery {
  from: Date;
  until: Date;
  /** The lowest level returned (OpenHIM: `level`, default info). */
  level: ServerLogLevel;
  /** Records skipped first (OpenHIM's `start`). */
  start: number;
  limit: number;
}

export const SERVER_LOG_LEVELS: readonly ServerLogLevel[] = ['debug', 'info', 'warn', 'error'];
const RANK: Record<ServerLogLevel, number> = { debug: 1, info: 2, warn: 3, error: 4 };
/** OpenHIM caps its log collection (logger.capDBLogs); here 8 MiB of records in all. */
const MAX_BYTES = 8 * 1024 * 1024;
const MAX_MESSAGE_CHARS = 4096;
const MAX_META_CHARS = 8192;
/** pino's own fields, which the record carries as timestamp, level and message. */
const PINO_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);

interface Kept {
  record: ServerLogRecord;
  time: number;
  bytes: number;
}

export class ServerLogs extends Writable {
  private readonly kept: Kept[] = [];
  /** Index of the oldest record still kept (records before it are dropped lazily, in batches). */
  private head = 0;
  private bytes = 0;

  constructor(private readonly maxBytes = MAX_BYTES) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line) this.keep(line);
    }
    callback();
  }

  /** The records in time order, as OpenHIM's getLogs filters them. */
  query(query: ServerLogQuery): ServerLogRecord[] {
    const from = query.from.getTime();
    const until = query.until.getTime();
    const lowest = RANK[query.level];
    const found: ServerLogRecord[] = [];
    let skipped = 0;
    for (let i = this.head; i < this.kept.length && found.length < query.limit; i++) {
      const { record, time } = this.kept[i]!;
      if (time < from || time > until || RANK[record.level] < lowest) continue;
      if (skipped++ < query.start) continue;
      found.push(record);
    }
    return found;
  }

  private keep(line: string): void {
    const fields = jsonObjectOf(line) ?? { msg: line };
    const time = typeof fields.time === 'number' && Number.isFinite(fields.time) ? fields.time : Date.now();
    // fromEntries defines each key as an own property: a "__proto__" field never becomes a prototype.
    const meta = Object.fromEntries(Object.entries(fields).filter(([key]) => !PINO_FIELDS.has(key)));
    let metaText = JSON.stringify(meta);
    const record: ServerLogRecord = {
      timestamp: new Date(time).toISOString(),
      level: levelOf(fields.level),
      message: String(fields.msg ?? '').slice(0, MAX_MESSAGE_CHARS),
      label: typeof meta.service === 'string' ? meta.service.slice(0, 64) : 'main',
      meta,
    };
    if (metaText.length > MAX_META_CHARS) {
      record.meta = { truncated: true, service: typeof meta.service === 'string' ? meta.service : undefined };
      metaText = JSON.stringify(record.meta);
    }
    const bytes = record.message.length * 2 + metaText.length * 2 + 128;
    this.kept.push({ record, time, bytes });
    this.bytes += bytes;
    while (this.bytes > this.maxBytes && this.head < this.kept.length - 1) this.bytes -= this.kept[this.head++]!.bytes;
    // Drop the consumed front now and then, so the array does not grow with the records ever seen.
    if (this.head > 1024 && this.head * 2 > this.kept.length) {
      this.kept.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** A line that is a JSON object, parsed; undefined for anything else. */
function jsonObjectOf(line: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(line);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** pino's numeric levels as winston's names (trace is debug, fatal is error). */
function levelOf(level: unknown): ServerLogLevel {
  const value = Number(level);
  if (value >= 50) return 'error';
  if (value >= 40) return 'warn';
  if (value >= 30) return 'info';
  return 'debug';
}
