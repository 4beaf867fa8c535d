/**
 * MLLP framing (HL7 v2 Minimal Lower Layer Protocol): each message travels as
 * <VT> message <FS><CR>. The decoder turns a byte stream into whole messages and stops at the
 * first framing problem (bytes outside a frame, a frame over the size limit): the listener then
 * closes the connection, since the stream can no longer be trusted to line up with messages.
 */
export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;
const LF = 0x0a;

export type FramingProblem = 'unframed' | 'too-large';
export type MllpEvent = { kind: 'message'; payload: Buffer } | { kind: 'problem'; problem: FramingProblem };

/** One message in its MLLP frame. */
/** A message in its frame: text as UTF-8, or bytes already encoded (another character set, MSH-18). */
export function frameMessage(message: string | Buffer): Buffer {
  return Buffer.concat([Buffer.of(VT), typeof message === 'string' ? Buffer.from(message, 'utf8') : message, Buffer.of(FS, CR)]);
}

export class MllpDecoder {
  private state: 'between' | 'inside' | 'after-fs' | 'broken' = 'between';
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** True while part of a message has arrived and the rest has not. */
  get partial(): boolean {
    return this.state === 'inside' || this.state === 'after-fs';
  }

  push(data: Buffer): MllpEvent[] {
    const events: MllpEvent[] = [];
    let at = 0;
    while (at < data.length && this.state !== 'broken') {
      if (this.state === 'between') {
        const byte = data[at++]!;
        if (byte === VT) this.state = 'inside';
        // Some senders put a line break after <FS><CR>; tolerate whitespace between frames.
        else if (byte !== CR && byte !== LF && byte !== 0x20 && byte !== 0x09) events.push(this.fail('unframed'));
        continue;
      }
      if (this.state === 'after-fs') {
        if (data[at++] !== CR) {
          events.push(this.fail('unframed'));
          continue;
        }
        events.push({ kind: 'message', payload: Buffer.concat(this.chunks, this.size) });
        this.chunks = [];
        this.size = 0;
        this.state = 'between';
        continue;
      }
      const end = data.indexOf(FS, at);
      const body = data.subarray(at, end === -1 ? data.length : end);
      if (this.size + body.length > this.maxMessageBytes) events.push(this.fail('too-large'));
      else if (body.includes(VT)) events.push(this.fail('unframed')); // a new frame began before this one ended
      else {
        this.chunks.push(body);
        this.size += body.length;
        at = end === -1 ? data.length : end + 1;
        if (end !== -1) this.state = 'after-fs';
      }
    }
    return events;
  }

  private fail(problem: FramingProblem): MllpEvent {
    this.state = 'broken';
    this.chunks = [];
    this.size = 0;
    return { kind: 'problem', problem };
  }
}
