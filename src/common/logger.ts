import { Writable } from 'node:stream';
import pino from 'pino';

export type Logger = pino.Logger;

/** Field names whose values never reach a log line. */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.cookie',
  'passwordHash',
  '*.passwordHash',
];

export interface LoggerOptions {
  level?: string;
  /** Extra JSON-lines destination (the state directory's log file). */
  file?: Writable;
  /** Human-readable lines to this stream (foreground mode). */
  pretty?: NodeJS.WritableStream;
  /** More JSON-lines destinations (e.g. the runtime's recent-lines buffer, the server logs of GET /logs). */
  extra?: Writable[];
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const streams: pino.StreamEntry[] = [];
  if (options.file) streams.push({ stream: options.file, level: 'trace' });
  if (options.pretty) streams.push({ stream: prettyStream(options.pretty), level: 'trace' });
  for (const stream of options.extra ?? []) streams.push({ stream, level: 'trace' });
  const level = options.level ?? process.env.INSTANT_LOG_LEVEL ?? 'info';
  if (streams.length === 0) return pino({ level, enabled: false });
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '***' } }, pino.multistream(streams));
}

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Formats one pino JSON line as "HH:MM:SS service | level message". */
export function formatLogLine(line: string): string | undefined {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = new Date(Number(record.time ?? Date.now())).toISOString().slice(11, 19);
  const service = String(record.service ?? 'instant').padEnd(22);
  const level = LEVEL_NAMES[Number(record.level)] ?? 'info';
  const levelMark = level === 'info' ? '' : `${level.toUpperCase()} `;
  const err = record.err as { message?: string } | undefined;
  const detail = err?.message ? ` (${err.message})` : '';
  return `${time} ${service}| ${levelMark}${String(record.msg ?? '')}${detail}`;
}

function prettyStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        const text = formatLogLine(line);
        if (text) out.write(`${text}\n`);
      }
      callback();
    },
  });
}
