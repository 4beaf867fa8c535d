import type { CertificateInfo } from './models.js';

/** The certificate's subject as people read it: common name first, then the rest; "–" only when it has none. */
export function subjectOf(cert: Pick<CertificateInfo, 'commonName' | 'organizationUnit' | 'organization' | 'locality' | 'state' | 'country'>): string {
  return [cert.commonName, cert.organizationUnit, cert.organization, cert.locality, cert.state, cert.country].filter(Boolean).join(', ') || '–';
}
