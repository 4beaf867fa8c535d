import { Writable } from 'node:stream';
import { formatLogLine } from '../common/logger.js';

/** Keeps the last lines each service logged, to show when that service fails to start. */
export class RecentLogLines extends Writable {
  private readonly lines = new Map<string, string[]>();

  constructor(private readonly keep = 20) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      let service = 'instant';
      try {
        service = String((JSON.parse(line) as { service?: string }).service ?? 'instant');
      } catch {
        // not JSON: keep it under the platform's name
      }
      const kept = this.lines.get(service) ?? [];
      kept.push(formatLogLine(line) ?? line);
      if (kept.length > this.keep) kept.shift();
      this.lines.set(service, kept);
    }
    callback();
  }

  of(service: string): string[] {
    return [...(this.lines.get(service) ?? [])];
  }
}
