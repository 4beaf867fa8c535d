/**
 * E-mail through an SMTP server (nodemailer), for the messages the exchange sends people: a new
 * user's set-password link, a password reset, alerts. Configured by one SMTP URL
 * (`smtp://user:pass@host:587`, `smtps://...:465`; nodemailer's URL form, e.g.
 * `?tls.rejectUnauthorized=false` for a test server); without one, nothing is sent and callers are
 * told so. Every connection, greeting and socket wait is bounded, so a dead mail server cannot hold
 * a request or a loop. The URL holds a password: it is never logged.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from './logger.js';
import { ONE_MAILBOX } from './email-address.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

export interface Mailer {
  /** Whether an SMTP server is configured. */
  readonly configured: boolean;
  /** Sends one message; rejects with the server's reason (without credentials) when it fails. */
  send(message: MailMessage): Promise<void>;
  close(): void;
}

const TIMEOUT_MS = 15_000;
/** The longest one message may take in all: a server that answers a line at a time never ends otherwise. */
const SEND_DEADLINE_MS = 30_000;

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function createMailer(smtpUrl: string | undefined, from: string, logger: Logger): Mailer {
  if (!smtpUrl) {
    return {
      configured: false,
      send: () => Promise.reject(new Error('no mail server is configured (OPENHIM_SMTP_URL)')),
      close: () => undefined,
    };
  }
  let transport: Transporter;
  try {
    transport = nodemailer.createTransport(smtpUrl, { from });
  } catch {
    throw new Error('OPENHIM_SMTP_URL is not an SMTP URL nodemailer reads (smtp://user:password@host:port or smtps://...)');
  }
  // Bounded waits: nodemailer's defaults are two minutes for the connection, ten for the socket;
  // a connection given up on is destroyed at once, not ended politely.
  const options = (transport as unknown as { options: Record<string, unknown> }).options;
  Object.assign(options, { connectionTimeout: TIMEOUT_MS, greetingTimeout: TIMEOUT_MS, socketTimeout: TIMEOUT_MS, socketCloseTimeout: 0 });
  // Credentials never cross the network in the clear: a plain smtp:// server elsewhere must offer
  // STARTTLS (a server on this host may not).
  const url = new URL(smtpUrl);
  if (url.protocol === 'smtp:' && url.username && !LOOPBACK.has(url.hostname)) options.requireTLS = true;
  const closing = new AbortController();
  return {
    configured: true,
    async send(message) {
      // One mailbox only: an address that reads as a list (or a name and an address) is not sent to.
      if (!ONE_MAILBOX.test(message.to)) throw new Error(`${JSON.stringify(message.to.slice(0, 100))} is not one e-mail address`);
      try {
        await transport.sendMail({ from, ...message, signal: AbortSignal.any([AbortSignal.timeout(SEND_DEADLINE_MS), closing.signal]) } as Parameters<Transporter['sendMail']>[0]);
      } catch (error) {
        // The error may echo the server's answer; never the URL with its password.
        const reason = ((error as Error).message ?? 'unknown error').replace(/\/\/[^@\s]*@/g, '//***@').slice(0, 300);
        logger.warn({ to: message.to, subject: message.subject }, `e-mail not sent: ${reason}`);
        throw new Error(`the mail server did not take the message: ${reason}`);
      }
    },
    close: () => {
      // Messages on their way are dropped with their connections: nothing holds the process.
      closing.abort(new Error('the mail service is closing'));
      transport.close();
    },
  };
}
