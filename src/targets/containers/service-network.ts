/**
 * How each built-in service sits on a container network: the settings that name its address
 * (it listens on 0.0.0.0 in its own container and is reached by its DNS name from the others),
 * its ports and the endpoints it reports. One table, read by every container renderer.
 */
export interface ServicePort {
  /** A DNS-label name (Kubernetes port names: at most 15 characters). */
  name: string;
  setting: string;
  default: number;
  /** UDP (the ATNA audit listener); TCP when absent. */
  protocol?: 'UDP';
}

export interface ServiceEndpoint {
  port: string;
  path: string;
  scheme: 'http' | 'https' | 'mllp' | 'syslog+udp' | 'syslog+tcp' | 'syslog+tls';
}

export interface ServiceNetwork {
  hostSettings: string[];
  ports: ServicePort[];
  /** What the service reports as its endpoints (RunningService.endpoints), by name. */
  endpoints: Record<string, ServiceEndpoint>;
  /** Its own health URL: the import job waits for it. */
  health: { port: string; path: string };
}

export const SERVICE_NETWORK: Readonly<Record<string, ServiceNetwork>> = {
  'interop-layer': {
    hostSettings: ['OPENHIM_API_HOST', 'OPENHIM_ROUTER_HOST'],
    ports: [
      { name: 'api', setting: 'OPENHIM_API_PORT', default: 8080 },
      { name: 'router', setting: 'OPENHIM_ROUTER_HTTP_PORT', default: 5001 },
      { name: 'router-https', setting: 'OPENHIM_ROUTER_HTTPS_PORT', default: 5000 },
      // The ATNA audit repository's syslog listeners: off (0) unless set, so not rendered by default.
      { name: 'audit-udp', setting: 'OPENHIM_AUDIT_UDP_PORT', default: 0, protocol: 'UDP' },
      { name: 'audit-tcp', setting: 'OPENHIM_AUDIT_TCP_PORT', default: 0 },
      { name: 'audit-tls', setting: 'OPENHIM_AUDIT_TLS_PORT', default: 0 },
      // The client registry package's HL7v2 tcp channel on the router: rendered when that package sets it.
      { name: 'hl7-mllp', setting: 'CLIENT_REGISTRY_MLLP_CHANNEL_PORT', default: 0 },
    ],
    endpoints: {
      api: { port: 'api', path: '', scheme: 'http' },
      router: { port: 'router', path: '', scheme: 'http' },
      routerHttps: { port: 'router-https', path: '', scheme: 'https' },
      auditUdp: { port: 'audit-udp', path: '', scheme: 'syslog+udp' },
      auditTcp: { port: 'audit-tcp', path: '', scheme: 'syslog+tcp' },
      auditTls: { port: 'audit-tls', path: '', scheme: 'syslog+tls' },
      clientRegistryMllp: { port: 'hl7-mllp', path: '', scheme: 'mllp' },
    },
    health: { port: 'api', path: '/health' },
  },
  'shared-health-record': {
    hostSettings: ['FHIR_DATASTORE_HOST'],
    ports: [{ name: 'api', setting: 'FHIR_DATASTORE_PORT', default: 3447 }],
    endpoints: { fhir: { port: 'api', path: '/fhir', scheme: 'http' }, api: { port: 'api', path: '', scheme: 'http' } },
    health: { port: 'api', path: '/health' },
  },
  'client-registry': {
    hostSettings: ['CLIENT_REGISTRY_HOST'],
    ports: [
      { name: 'api', setting: 'CLIENT_REGISTRY_PORT', default: 3448 },
      { name: 'mllp', setting: 'CLIENT_REGISTRY_MLLP_PORT', default: 2576 },
    ],
    endpoints: { fhir: { port: 'api', path: '/clientregistry/fhir', scheme: 'http' }, api: { port: 'api', path: '', scheme: 'http' }, mllp: { port: 'mllp', path: '', scheme: 'mllp' } },
    health: { port: 'api', path: '/health' },
  },
  'patient-registration': {
    hostSettings: ['PATIENT_REGISTRATION_HOST'],
    ports: [{ name: 'http', setting: 'PATIENT_REGISTRATION_PORT', default: 3449 }],
    endpoints: { http: { port: 'http', path: '', scheme: 'http' } },
    health: { port: 'http', path: '/health' },
  },
  terminology: {
    hostSettings: ['TERMINOLOGY_HOST'],
    ports: [{ name: 'api', setting: 'TERMINOLOGY_PORT', default: 3451 }],
    endpoints: { fhir: { port: 'api', path: '/terminology/fhir', scheme: 'http' }, api: { port: 'api', path: '', scheme: 'http' } },
    health: { port: 'api', path: '/health' },
  },
  'care-services': {
    hostSettings: ['CARE_SERVICES_HOST'],
    ports: [{ name: 'api', setting: 'CARE_SERVICES_PORT', default: 3455 }],
    endpoints: { fhir: { port: 'api', path: '/care-services/fhir', scheme: 'http' }, api: { port: 'api', path: '', scheme: 'http' } },
    health: { port: 'api', path: '/health' },
  },
  console: {
    hostSettings: ['CONSOLE_HOST'],
    ports: [{ name: 'web', setting: 'CONSOLE_PORT', default: 9000 }],
    endpoints: { web: { port: 'web', path: '', scheme: 'http' } },
    health: { port: 'web', path: '/health' },
  },
};

/**
 * Settings that point one built-in service at another's endpoint. The container renderers set
 * each on the consumer's container when both services are deployed (one service per container:
 * they cannot meet in one process), unless the operator set it.
 */
export interface ServicePeer {
  setting: string;
  consumer: string;
  provider: string;
  /** The provider's endpoint (ServiceNetwork.endpoints) the setting holds. */
  endpoint: string;
}

export const SERVICE_PEERS: readonly ServicePeer[] = [
  // The shared health record's :in/:below and binding checks ask the terminology service over HTTP.
  { setting: 'FHIR_DATASTORE_TERMINOLOGY_URL', consumer: 'shared-health-record', provider: 'terminology', endpoint: 'fhir' },
];
