/**
 * Text messages (SMS) through an HTTP gateway, for alerts to users whose contact method is `sms`
 * (OpenHIM's contact.js sends through Clickatell's HTTP API). The gateway is one URL template
 * with `{to}` and `{text}` in it, which the message fills in (URL-encoded) and the server GETs, as
 * OpenHIM does: Clickatell's `https://platform.clickatell.com/messages/http/send?apiKey=KEY&to={to}&content={text}`,
 * or any gateway with such an HTTP API. A 2xx answer is a message taken. The wait is bounded; the
 * URL holds the gateway's key, so it is never logged, nor is any part of the query.
 */
import { request } from 'undici';
import { InstantError } from './errors.js';

export interface SmsGateway {
  readonly configured: boolean;
  /** Sends one message to an MSISDN; rejects with the gateway's reason (without the URL) when it fails. */
  send(to: string, text: string): Promise<void>;
}

const TIMEOUT_MS = 15_000;
/** E.164: a plus and up to 15 digits (a leading plus optional, as OpenHIM's users often store them). */
const MSISDN = /^\+?[0-9]{6,15}$/;
/** One SMS is 160 characters; gateways join up to a few parts. Longer texts are cut. */
const MAX_TEXT_CHARS = 640;

export function createSmsGateway(urlTemplate: string | undefined, setting = 'OPENHIM_SMS_URL'): SmsGateway {
  if (!urlTemplate) {
    return { configured: false, send: () => Promise.reject(new Error(`no SMS gateway is configured (${setting})`)) };
  }
  checkTemplate(urlTemplate, setting);
  return {
    configured: true,
    async send(to, text) {
      const number = to.replace(/[\s()-]/g, '');
      if (!MSISDN.test(number)) throw new Error(`${JSON.stringify(to.slice(0, 40))} is not a phone number (MSISDN, e.g. +27831234567)`);
      const url = urlTemplate.replaceAll('{to}', encodeURIComponent(number)).replaceAll('{text}', encodeURIComponent(text.slice(0, MAX_TEXT_CHARS)));
      let status: number;
      try {
        const answer = await request(url, { method: 'GET', headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
        status = answer.statusCode;
        await answer.body.dump({ limit: 64 * 1024 });
      } catch (error) {
        throw new Error(`the SMS gateway could not be reached: ${(error as Error).message.replace(/https?:\/\/\S+/g, '<gateway>').slice(0, 200)}`);
      }
      if (status < 200 || status > 299) throw new Error(`the SMS gateway refused the message (HTTP ${status})`);
    },
  };
}

function checkTemplate(template: string, setting: string): void {
  let url: URL;
  try {
    url = new URL(template.replaceAll('{to}', 'to').replaceAll('{text}', 'text'));
  } catch {
    throw new InstantError('INSTANT_SETTING_INVALID', `${setting} is not a URL`, 'give the gateway\'s HTTP API as a URL with {to} and {text} in it, e.g. https://platform.clickatell.com/messages/http/send?apiKey=KEY&to={to}&content={text}');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InstantError('INSTANT_SETTING_INVALID', `${setting} must be an http or https URL`, 'the gateway is called over HTTP(S)');
  }
  if (!template.includes('{to}') || !template.includes('{text}')) {
    throw new InstantError('INSTANT_SETTING_INVALID', `${setting} must hold {to} and {text}, where the number and the message go`, 'e.g. ...&to={to}&content={text}');
  }
}
