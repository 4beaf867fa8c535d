/** An MLLP client on a plain socket: sends framed messages and reads framed answers. */
import net from 'node:net';
import { Hl7Message } from '@medplum/core';

const VT = '\x0b';
const FS_CR = '\x1c\r';

export class MllpClient {
  private buffer = '';
  private waiters: Array<(message: string) => void> = [];
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf(FS_CR)) !== -1) {
        const frame = this.buffer.slice(this.buffer.indexOf(VT) + 1, end);
        this.buffer = this.buffer.slice(end + 2);
        this.waiters.shift()?.(frame);
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async connect(url: string): Promise<MllpClient> {
    const { hostname, port } = new URL(url.replace(/^mllp:/, 'http:'));
    const socket = net.connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new MllpClient(socket);
  }

  /** Sends one message (segments joined by CR) and answers the parsed reply. */
  async send(message: string): Promise<Hl7Message> {
    return Hl7Message.parse(await this.sendRaw(`${VT}${message}${FS_CR}`));
  }

  /** The next framed answer; refused when the connection closes or nothing comes within 30 s (a test fails, never hangs). */
  sendRaw(bytes: string | Buffer): Promise<string> {
    const reply = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no MLLP answer within 30 s')), 30_000);
      const waiter = (message: string) => {
        clearTimeout(timer);
        resolve(message);
      };
      this.waiters.push(waiter);
      void this.closed.then(() => {
        clearTimeout(timer);
        if (this.waiters.includes(waiter)) reject(new Error('the connection closed before an answer'));
      });
    });
    this.socket.write(bytes);
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }
}

let counter = 0;

/** A message from segments; MSH-10 is a fresh control id (returned too). */
export function hl7(type: string, ...segments: string[]): { text: string; controlId: string } {
  const controlId = `MSG${++counter}`;
  return { text: [`MSH|^~\\&|CLINIC_A|FAC_A|CR|MOH|20240101120000||${type}|${controlId}|P|2.5`, ...segments].join('\r'), controlId };
}

/** MSA-1, MSA-2, and ERR-3.1 of an answer. */
export function ackOf(message: Hl7Message): { code: string; controlId: string; error: string; errorText: string } {
  const msa = message.getSegment('MSA');
  const err = message.getSegment('ERR');
  return {
    code: msa?.getField(1)?.toString() ?? '',
    controlId: msa?.getField(2)?.toString() ?? '',
    error: err?.getField(3)?.getComponent(1) ?? '',
    errorText: err?.getField(8)?.toString() ?? '',
  };
}
