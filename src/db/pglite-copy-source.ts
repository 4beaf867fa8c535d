/**
 * COPY data read by PGlite straight from the caller's buffer. PGlite's own `/dev/blob` takes a
 * Blob: two copies per batch (into the Blob, out again as an ArrayBuffer) and a byte-at-a-time
 * read loop. Under router load those short-lived buffers of hundreds of KB made V8 collect the
 * database thread's old generation several times a second (external memory counts towards it),
 * and the collector's helper threads cost more CPU per transaction row than the row's insert.
 *
 * Each COPY here gets a device file of its own (`/dev/instant-copy-<n>`, so concurrent COPYs,
 * inside and outside a transaction, never read each other's data), read from the caller's
 * bytes with one memcpy into WebAssembly memory, and removed when the statement ends.
 */
import type { PGlite, Transaction } from '@electric-sql/pglite';

/** The part of Emscripten's FS this uses (PGlite's `Module.FS`). */
interface EmscriptenFs {
  makedev(major: number, minor: number): number;
  registerDevice(dev: number, ops: DeviceOps): void;
  mkdev(path: string, dev: number): void;
  unlink(path: string): void;
  ErrnoError: new (errno: number) => Error;
}

interface DeviceStream {
  node: { name: string };
  position: number;
}

interface DeviceOps {
  open(stream: DeviceStream): void;
  close(stream: DeviceStream): void;
  read(stream: DeviceStream, heap: Int8Array, offset: number, length: number, position: number): number;
  write(stream: DeviceStream, heap: Int8Array, offset: number, length: number, position: number): number;
  llseek(stream: DeviceStream, offset: number, whence: number): number;
}

/** PGlite's /dev/blob is major 64; this device is the next one. */
const DEVICE_MAJOR = 65;
/** Emscripten's (WASI) errno values. */
const EBADF = 8;
const EINVAL = 28;
const EPERM = 63;
const SEEK_CUR = 1;
const SEEK_END = 2;

export class PgliteCopySource {
  private readonly views = new Map<string, Uint8Array>();
  private readonly dev: number;
  private next = 0;

  constructor(private readonly fs: EmscriptenFs) {
    this.dev = fs.makedev(DEVICE_MAJOR, 0);
    const viewOf = (stream: DeviceStream): Uint8Array => {
      const view = this.views.get(stream.node.name);
      if (!view) throw new fs.ErrnoError(EBADF);
      return view;
    };
    fs.registerDevice(this.dev, {
      open: () => undefined,
      close: () => undefined,
      read: (stream, heap, offset, length, position) => {
        const view = viewOf(stream);
        if (position >= view.length) return 0;
        const n = Math.min(view.length - position, length);
        // A byte view of the same memory: set() between equal element types is one memcpy.
        new Uint8Array(heap.buffer, heap.byteOffset + offset, n).set(view.subarray(position, position + n));
        return n;
      },
      write: () => {
        throw new fs.ErrnoError(EPERM);
      },
      llseek: (stream, offset, whence) => {
        let position = offset;
        if (whence === SEEK_CUR) position += stream.position;
        else if (whence === SEEK_END) position += viewOf(stream).length;
        if (position < 0) throw new fs.ErrnoError(EINVAL);
        return position;
      },
    });
  }

  static of(pg: PGlite): PgliteCopySource {
    return new PgliteCopySource((pg.Module as unknown as { FS: EmscriptenFs }).FS);
  }

  /** Runs `COPY <into> FROM <bytes> (FORMAT binary)` on `target`; resolves to the rows loaded. */
  async copy(target: PGlite | Transaction, into: string, bytes: Uint8Array): Promise<number> {
    const name = `instant-copy-${this.next++}`;
    const path = `/dev/${name}`;
    this.views.set(name, bytes);
    this.fs.mkdev(path, this.dev);
    try {
      const result = await target.query(`COPY ${into} FROM '${path}' (FORMAT binary)`);
      return result.affectedRows ?? 0;
    } finally {
      this.views.delete(name);
      this.fs.unlink(path);
    }
  }
}
