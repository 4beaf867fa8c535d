/**
 * OpenHIM's certificate generation (openhim-core-js src/api/certificateAuthority.js, `POST
 * /certificates`): a new self-signed certificate and its private key from the subject fields the
 * console's form sends. OpenHIM asks OpenSSL through `pem` (RSA 2048); here @peculiar/x509 and Web
 * Crypto make the same kind of pair, RSA 2048 with SHA-256, off the event loop. The subject is
 * given to the generator as structured attributes, never as a DN string to parse, so a comma or
 * `+` in a field cannot add attributes. Pure: storing the result is the keystore API's.
 */
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import * as x509 from '@peculiar/x509';
import { z } from 'zod';

/**
 * The form's fields, OpenHIM's names. An empty field is left out, as OpenHIM's `pem` leaves it out
 * (its console sends `""` for a field typed in and cleared). OpenHIM makes a client certificate of
 * any `type` but "server"; here `type` is "client" (the default) or "server", anything else a 400.
 */
export const certificateRequestSchema = z.object({
  type: z.preprocess(blankIsAbsent, z.enum(['client', 'server']).default('client')),
  commonName: subjectText(64),
  // X.520 countryName: two letters (OpenSSL refuses others).
  country: optional(z.string().regex(/^[A-Za-z]{2}$/, 'two letters (ISO 3166), e.g. ZA')),
  state: optional(subjectText(128)),
  locality: optional(subjectText(128)),
  organization: optional(subjectText(64)),
  organizationUnit: optional(subjectText(64)),
  // PKCS#9 emailAddress is an IA5String: ASCII only, printable, no spaces.
  emailAddress: optional(z.string().max(128).regex(/^[\x21-\x3f\x41-\x7e]+@[\x21-\x3f\x41-\x7e]+$/, 'an e-mail address in ASCII (name@host)')),
  // A whole number of days, as a number or digits; `true` or "0x10" are not days.
  days: z.preprocess(blankIsAbsent, z.preprocess((value) => (typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : value),
    z.number({ invalid_type_error: 'a whole number of days' }).int('a whole number of days').min(1).max(3650)).default(365)),
}).superRefine((request, context) => {
  if (request.type === 'server' && !serverName(request.commonName)) {
    context.addIssue({ code: 'custom', path: ['commonName'], message: 'a server certificate names the host clients reach: a DNS name (router.example.org) or an IP address, without scheme or port' });
  }
});

export type CertificateRequest = z.infer<typeof certificateRequestSchema>;

function blankIsAbsent(value: unknown): unknown {
  return value === null || (typeof value === 'string' && value.trim() === '') ? undefined : value;
}

/** An optional field: `""` or blanks mean absent. */
function optional<T extends z.ZodTypeAny>(schema: T) {
  return z.preprocess(blankIsAbsent, schema.optional());
}

/**
 * What a subject attribute must not hold: control characters, formatting characters (bidirectional
 * marks and overrides, zero-width and invisible ones, soft hyphens, tags: a name that reads
 * differently from what it is) and line or paragraph separators. Lone surrogates are refused apart
 * (not text: the encoder would write garbage or fail).
 */
const UNSHOWABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Text for a subject attribute: X.520's upper bound, showable characters only. */
function subjectText(max: number) {
  return z.string().trim().min(1).max(max).refine((text) => !LONE_SURROGATE.test(text) && !UNSHOWABLE.test(text), 'no control, formatting or invalid characters');
}

const LABEL = '(?!-)[A-Za-z0-9-]{1,63}(?<!-)';
/** RFC 1123 host names, a leading `*.` for a wildcard certificate over at least two labels (length checked apart: at most 253). */
const HOST_NAME = new RegExp(`^(\\*\\.${LABEL}\\.${LABEL}(\\.${LABEL})*|${LABEL}(\\.${LABEL})*)$`);

/** A DNS name or IP address as the certificate's alternative name writes it (IDNs in punycode), or undefined. */
function serverName(commonName: string): { type: 'dns' | 'ip'; value: string } | undefined {
  // IPv6 with an embedded IPv4 part or a zone (`%eth0`) would be written wrongly: refused, as is any other form.
  if (isIP(commonName)) return /[.%]/.test(commonName) && isIP(commonName) === 6 ? undefined : { type: 'ip', value: commonName };
  // domainToASCII reads a URL's host: a path, query, escape or credentials after it would be dropped silently.
  if (/[/?#\\%@:\s]/.test(commonName)) return undefined;
  const ascii = domainToASCII(commonName);
  return ascii.length <= 253 && HOST_NAME.test(ascii) && !/^[\d.]+$/.test(ascii) ? { type: 'dns', value: ascii } : undefined;
}

/** As OpenHIM answers it: the certificate and its private key, both PEM. */
export interface GeneratedCertificate {
  certificate: string;
  key: string;
}

/** Node's Web Crypto, typed as the library's (DOM's) Crypto. */
const provider = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1];
const RSA_SHA256 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };

export async function generateCertificate(request: CertificateRequest): Promise<GeneratedCertificate> {
  const keys = (await webcrypto.subtle.generateKey(RSA_SHA256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date();
  const notAfter = new Date(notBefore.getTime() + request.days * 86_400_000);
  const server = request.type === 'server';
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
      name: subjectOf(request),
      notBefore,
      notAfter,
      signingAlgorithm: RSA_SHA256,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([server ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, provider),
        // TLS clients check a server's name against its alternative names, not its common name.
        ...(server ? [new x509.SubjectAlternativeNameExtension([serverName(request.commonName)!])] : []),
      ],
    },
    provider,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return {
    certificate: `${certificate.toString('pem')}\n`,
    key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`,
  };
}

/** The subject in OpenSSL's order (C, ST, L, O, OU, CN, emailAddress), one attribute per RDN. */
function subjectOf(request: CertificateRequest): x509.JsonName {
  const attributes: Array<[string, string | undefined]> = [
    ['C', request.country],
    ['ST', request.state],
    ['L', request.locality],
    ['O', request.organization],
    ['OU', request.organizationUnit],
    ['CN', request.commonName],
    ['E', request.emailAddress],
  ];
  return attributes.filter((a): a is [string, string] => a[1] !== undefined).map(([type, value]) => ({ [type]: [value] }));
}
