/**
 * Sends one HL7v2 message to an `mllp` route (a TCP upstream speaking MLLP) and reads its framed
 * answer: one connection per message, bounded in time and size like the router's HTTP upstreams.
 */
import net from 'node:net';
import { frameMessage, MllpDecoder } from '../../../common/mllp/framing.js';
import { UpstreamFailure } from './upstream.js';

export interface MllpTarget {
  host: string;
  port: number;
  timeoutMs: number;
  maxMessageBytes: number;
}

/** The message's bytes go as they came and the answer's come back as bytes: the router does not re-encode HL7 (MSH-18 may name Latin-1). */
export function sendMllpMessage(target: MllpTarget, message: string | Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const decoder = new MllpDecoder(target.maxMessageBytes);
    const socket = net.connect({ host: target.host, port: target.port });
    let settled = false;
    const finish = (error: UpstreamFailure | undefined, answer?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(new UpstreamFailure('timeout', `Request took longer than ${target.timeoutMs}ms`)), target.timeoutMs);
    socket.once('connect', () => socket.write(frameMessage(message)));
    socket.on('data', (data: Buffer) => {
      for (const event of decoder.push(data)) {
        if (event.kind === 'message') return finish(undefined, event.payload);
        return finish(new UpstreamFailure('error', event.problem === 'too-large'
          ? `the MLLP upstream's answer is over ${target.maxMessageBytes} bytes (OPENHIM_ROUTER_TCP_MAX_MESSAGE_BYTES)`
          : 'the MLLP upstream answered bytes outside an MLLP frame'));
      }
    });
    socket.once('error', (error) => finish(new UpstreamFailure('error', `the MLLP upstream ${target.host}:${target.port} failed: ${error.message}`)));
    socket.once('close', () => finish(new UpstreamFailure('error', `the MLLP upstream ${target.host}:${target.port} closed the connection without answering`)));
  });
}
