/**
 * OpenHIM's certificate generation (openhim-core-js src/api/certificateAuthority.js, `POST
 * /certificates`): a new self-signed certificate and its private key from the subject fields the
 * console's form sends. OpenHIM asks OpenSSL through `pem` (RSA 2048); here @peculiar/x509 and Web
 * Crypto make the same kind of pair, RSA 2048 with SHA-256, off the event loop. The subject is
 * given to the generator as structured attributes, never as a DN string to parse, so a comma or
 * `+` in a field cannot add attributes. Pure: storing the result is the keystore API's.
 */
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { z } from 'zod';

/** The form's fields, OpenHIM's names; anything but `type: "server"` is a client certificate, as OpenHIM reads it. */
export const certificateRequestSchema = z.object({
  type: z.enum(['client', 'server']).default('client'),
  commonName: subjectText(64),
  // X.520 countryName: two letters (OpenSSL refuses others).
  country: z.string().regex(/^[A-Za-z]{2}$/, 'two letters (ISO 3166), e.g. ZA').optional(),
  state: subjectText(128).optional(),
  locality: subjectText(128).optional(),
  organization: subjectText(64).optional(),
  organizationUnit: subjectText(64).optional(),
  emailAddress: z.string().max(128).regex(/^[^\s@]+@[^\s@]+$/, 'an e-mail address').optional(),
  days: z.coerce.number().int().min(1).max(3650).default(365),
});

export type CertificateRequest = z.infer<typeof certificateRequestSchema>;

/** Text for a subject attribute: X.520's upper bound, no control characters. */
function subjectText(max: number) {
  // eslint-disable-next-line no-control-regex
  return z.string().trim().min(1).max(max).regex(/^[^\u0000-\u001f\u007f]+$/, 'no control characters');
}

/** As OpenHIM answers it: the certificate and its private key, both PEM. */
export interface GeneratedCertificate {
  certificate: string;
  key: string;
}

/** Node's Web Crypto, typed as the library's (DOM's) Crypto. */
const provider = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1];
const RSA_SHA256 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
const IP_ADDRESS = /^(\d{1,3}\.){3}\d{1,3}$|:/;

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
        ...(server ? [new x509.SubjectAlternativeNameExtension([{ type: IP_ADDRESS.test(request.commonName) ? 'ip' : 'dns', value: request.commonName }])] : []),
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
