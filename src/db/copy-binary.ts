/**
 * Rows in PostgreSQL's binary COPY format (https://www.postgresql.org/docs/current/sql-copy.html,
 * "Binary Format"), written straight into one buffer: no escaping, no parameter encoding, and
 * bodies copied in as bytes. Used to bulk-load the embedded database, where a statement's text
 * parameters cost more to encode than the rows cost to insert (Database.copyFrom).
 */

/**
 * COPY data made by CopyBinaryWriter: its memory is its own (never a slice of Buffer's shared
 * pool), so a driver may move it to another thread instead of copying it.
 */
export interface CopyData {
  readonly bytes: Uint8Array;
  /** Only CopyBinaryWriter makes one (a type-level brand, no value at run time). */
  readonly [madeByWriter]: true;
}
declare const madeByWriter: unique symbol;

/**
 * Buffers for COPY data, reused. A fresh buffer of hundreds of KB per batch (and the database
 * thread adopting it) is external memory V8 must collect: under router load that was several
 * old-generation collections a second. A driver that is done with a batch's bytes gives the
 * memory back (the worker driver gets it back from its thread); a writer takes the smallest free
 * one that fits. Bounded in count and size, so a burst of big bodies is not kept for ever.
 */
class CopyBufferPool {
  private readonly free: ArrayBuffer[] = [];
  private static readonly MAX_BUFFERS = 8;
  private static readonly MAX_BUFFER_BYTES = 8 * 1024 * 1024;

  take(minBytes: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const size = this.free[i]!.byteLength;
      if (size >= minBytes && (best < 0 || size < this.free[best]!.byteLength)) best = i;
    }
    if (best >= 0) return Buffer.from(this.free.splice(best, 1)[0]!);
    // Powers of two, so a returned buffer fits the next batch of about the same size.
    // Not from Buffer's shared pool: the memory is the writer's own, so it can move to a thread.
    return Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(Math.max(64 * 1024, minBytes))));
  }

  /** Free buffers held (for tests). */
  get available(): number {
    return this.free.length;
  }

  /** Memory a driver is done with; detached (transferred) or oversized memory is not kept. */
  give(memory: ArrayBufferLike): void {
    if (!(memory instanceof ArrayBuffer) || memory.byteLength === 0 || memory.byteLength > CopyBufferPool.MAX_BUFFER_BYTES) return;
    if (this.free.includes(memory)) return;
    if (this.free.length >= CopyBufferPool.MAX_BUFFERS) this.free.shift();
    this.free.push(memory);
  }
}

export const copyBuffers = new CopyBufferPool();

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** PostgreSQL's timestamp epoch, 2000-01-01, in Unix milliseconds. */
const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
/** jsonb's binary input: a version byte, then the JSON text. */
const JSONB_VERSION = 1;

export class CopyBinaryWriter {
  private buf: Buffer;
  private at = 0;

  constructor(expectedBytes = 64 * 1024) {
    this.buf = copyBuffers.take(expectedBytes);
    this.raw(SIGNATURE);
    this.int32(0); // flags
    this.int32(0); // header extension length
  }

  /** Starts a row of `fields` columns, written next in the COPY statement's column order. */
  row(fields: number): this {
    this.room(2);
    this.buf.writeInt16BE(fields, this.at);
    this.at += 2;
    return this;
  }

  null(): this {
    this.int32(-1);
    return this;
  }

  /** text (or varchar); null for SQL NULL. */
  text(value: string | null | undefined): this {
    if (value === null || value === undefined) return this.null();
    const bytes = Buffer.byteLength(value, 'utf8');
    this.int32(bytes);
    this.room(bytes);
    this.at += this.buf.write(value, this.at, 'utf8');
    return this;
  }

  /** int4; anything but an integer in range is refused (a RangeError, as the database would refuse it). */
  int4(value: number | null | undefined): this {
    if (value === null || value === undefined) return this.null();
    if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) throw new RangeError(`${String(value)} is not a 32-bit integer`);
    this.int32(4);
    this.int32(value);
    return this;
  }

  /** int8 (bigint) from a safe integer. */
  int8(value: number | null | undefined): this {
    if (value === null || value === undefined) return this.null();
    if (!Number.isSafeInteger(value)) throw new RangeError(`${String(value)} is not a safe integer`);
    this.int32(8);
    this.room(8);
    this.buf.writeBigInt64BE(BigInt(value), this.at);
    this.at += 8;
    return this;
  }

  bool(value: boolean | null | undefined): this {
    if (value === null || value === undefined) return this.null();
    this.int32(1);
    this.room(1);
    this.buf[this.at++] = value ? 1 : 0;
    return this;
  }

  /** timestamptz from Unix milliseconds. */
  timestamptz(unixMs: number): this {
    if (!Number.isFinite(unixMs)) throw new RangeError('not a valid timestamp');
    this.int32(8);
    this.room(8);
    this.buf.writeBigInt64BE(BigInt(Math.round(unixMs - POSTGRES_EPOCH_MS)) * 1000n, this.at);
    this.at += 8;
    return this;
  }

  /** jsonb from JSON text (the caller's JSON.stringify). */
  jsonb(json: string): this {
    const bytes = Buffer.byteLength(json, 'utf8');
    this.int32(bytes + 1);
    this.room(bytes + 1);
    this.buf[this.at++] = JSONB_VERSION;
    this.at += this.buf.write(json, this.at, 'utf8');
    return this;
  }

  bytea(value: Uint8Array | null | undefined): this {
    if (value === null || value === undefined) return this.null();
    this.int32(value.length);
    this.raw(value);
    return this;
  }

  /** The COPY data, trailer included. */
  finish(): CopyData {
    this.room(2);
    this.buf.writeInt16BE(-1, this.at);
    this.at += 2;
    // A view of the writer's memory (the whole of its ArrayBuffer is the writer's own).
    return { bytes: this.buf.subarray(0, this.at) } as unknown as CopyData;
  }

  private int32(value: number): void {
    this.room(4);
    this.buf.writeInt32BE(value, this.at);
    this.at += 4;
  }

  private raw(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const grown = copyBuffers.take(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(grown, 0, 0, this.at);
    copyBuffers.give(this.buf.buffer);
    this.buf = grown;
  }
}
