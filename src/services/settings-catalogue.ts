/**
 * The settings each built-in service reads with their defaults (those not in src/common/limits.ts),
 * so `instant config` lists them and a misspelled one gets "did you mean". A test checks this
 * list against the services' code: a setting read there and missing here fails it.
 */

export interface ServiceSetting {
  name: string;
  /** The default, as `config` shows it; empty when unset means off or derived. */
  default: string;
}

export const SERVICE_SETTINGS: Readonly<Record<string, readonly ServiceSetting[]>> = {
  'interop-layer': [
    { name: 'OPENHIM_API_CORS_ORIGINS', default: '*' },
    { name: 'OPENHIM_API_HOST', default: '127.0.0.1' },
    { name: 'OPENHIM_API_PORT', default: '8080' },
    { name: 'OPENHIM_API_TLS', default: 'false' },
    { name: 'OPENHIM_AUTO_RETRY_INTERVAL_MS', default: '60000' },
    { name: 'OPENHIM_CACHE_REFRESH_MS', default: '5000' },
    { name: 'OPENHIM_CERT_HOSTNAMES', default: '' },
    { name: 'OPENHIM_CONSOLE_BASE_URL', default: 'http://localhost:9000' },
    { name: 'OPENHIM_JWT_ALGORITHMS', default: '' },
    { name: 'OPENHIM_JWT_AUDIENCE', default: '' },
    { name: 'OPENHIM_JWT_ISSUER', default: '' },
    { name: 'OPENHIM_JWT_JWKS_URL', default: '' },
    { name: 'OPENHIM_JWT_PUBLIC_KEY', default: '' },
    { name: 'OPENHIM_JWT_REQUIRE_EXP', default: 'true' },
    { name: 'OPENHIM_JWT_SECRET', default: '' },
    { name: 'OPENHIM_LEGACY_TOKEN_AUTH', default: 'true' },
    { name: 'OPENHIM_MAX_TRANSACTIONS', default: '0' },
    { name: 'OPENHIM_ROOT_EMAIL', default: 'root@openhim.org' },
    { name: 'OPENHIM_ROOT_PASSWORD', default: '(required)' },
    { name: 'OPENHIM_ROUTER_AUTH_TYPES', default: 'basic,token,jwt,mutual-tls' },
    { name: 'OPENHIM_ROUTER_HOST', default: '127.0.0.1' },
    { name: 'OPENHIM_ROUTER_HTTPS_PORT', default: '5000' },
    { name: 'OPENHIM_ROUTER_HTTP_PORT', default: '5001' },
    { name: 'OPENHIM_ROUTER_PUBLIC_HOST', default: '' },
    { name: 'OPENHIM_ROUTER_TIMEOUT_MS', default: '60000' },
    { name: 'OPENHIM_ROUTER_WORKERS', default: '1' },
    { name: 'OPENHIM_SENDER_IDENTITY_SECRET', default: '' },
    { name: 'OPENHIM_SESSION_TTL_MS', default: '7200000' },
    { name: 'OPENHIM_TX_FLUSH_MS', default: '50' },
    { name: 'OPENHIM_UPSTREAM_TLS_VERIFY', default: 'true' },
    { name: 'OPENHIM_REPLICA_HEARTBEAT_MS', default: '5000' },
    { name: 'OPENHIM_REPLICA_DEAD_AFTER_MS', default: '30000' },
    { name: 'OPENHIM_TLS_CLIENT_TRUST', default: 'keystore' },
  ],
  'shared-health-record': [
    { name: 'FHIR_DATASTORE_BODY_LIMIT_BYTES', default: '16777216' },
    { name: 'FHIR_DATASTORE_HOST', default: '127.0.0.1' },
    { name: 'FHIR_DATASTORE_PORT', default: '3447' },
    { name: 'FHIR_DATASTORE_TERMINOLOGY_URL', default: '' },
    { name: 'FHIR_DATASTORE_LOCAL_BASE_URLS', default: '' },
  ],
  'client-registry': [
    { name: 'CLIENT_REGISTRY_BODY_LIMIT_BYTES', default: '16777216' },
    { name: 'CLIENT_REGISTRY_HOST', default: '127.0.0.1' },
    { name: 'CLIENT_REGISTRY_MLLP_PORT', default: '2576' },
    { name: 'CLIENT_REGISTRY_PORT', default: '3448' },
    { name: 'CLIENT_REGISTRY_PROTECTED_DOMAINS', default: '' },
    { name: 'CLIENT_REGISTRY_PROTECTED_DOMAIN_MODE', default: 'refuse' },
    { name: 'CLIENT_REGISTRY_RULES_FILE', default: '' },
    { name: 'CLIENT_REGISTRY_STRICT_DOMAINS', default: 'false' },
    { name: 'OPENHIM_SENDER_IDENTITY_SECRET', default: '' },
    { name: 'CLIENT_REGISTRY_LOCAL_BASE_URLS', default: '' },
    { name: 'CLIENT_REGISTRY_DIRECT_CALLERS', default: 'anonymous' },
  ],
  'patient-registration': [
    { name: 'CLIENT_REGISTRY_HOST', default: '127.0.0.1' },
    { name: 'CLIENT_REGISTRY_PORT', default: '3448' },
    { name: 'FHIR_DATASTORE_HOST', default: '127.0.0.1' },
    { name: 'FHIR_DATASTORE_PORT', default: '3447' },
    { name: 'OPENHIM_API_HOST', default: '(required)' },
    { name: 'OPENHIM_API_PORT', default: '(required)' },
    { name: 'OPENHIM_API_TLS', default: 'false' },
    { name: 'OPENHIM_ROOT_EMAIL', default: '(required)' },
    { name: 'OPENHIM_ROOT_PASSWORD', default: '(required)' },
    { name: 'PATIENT_REGISTRATION_HEARTBEAT_MS', default: '10000' },
    { name: 'PATIENT_REGISTRATION_HOST', default: '127.0.0.1' },
    { name: 'PATIENT_REGISTRATION_PORT', default: '3449' },
  ],
  console: [
    { name: 'CONSOLE_API_CA_FILE', default: '' },
    { name: 'CONSOLE_API_URL', default: '' },
    { name: 'CONSOLE_CLIENT_REGISTRY_URL', default: '' },
    { name: 'CONSOLE_SHR_URL', default: '' },
    { name: 'CLIENT_REGISTRY_HOST', default: '127.0.0.1' },
    { name: 'CLIENT_REGISTRY_PORT', default: '' },
    { name: 'FHIR_DATASTORE_HOST', default: '127.0.0.1' },
    { name: 'FHIR_DATASTORE_PORT', default: '' },
    { name: 'CONSOLE_HOST', default: '127.0.0.1' },
    { name: 'CONSOLE_PORT', default: '9000' },
    { name: 'CONSOLE_STATIC_DIR', default: '' },
    { name: 'CONSOLE_TLS_CERT_FILE', default: '' },
    { name: 'CONSOLE_TLS_KEY_FILE', default: '' },
    { name: 'OPENHIM_API_HOST', default: '127.0.0.1' },
    { name: 'OPENHIM_API_PORT', default: '8080' },
    { name: 'OPENHIM_API_TLS', default: 'false' },
    { name: 'OPENHIM_SENDER_IDENTITY_SECRET', default: '' },
  ],
  terminology: [
    { name: 'TERMINOLOGY_BODY_LIMIT_BYTES', default: '16777216' },
    { name: 'TERMINOLOGY_HOST', default: '127.0.0.1' },
    { name: 'TERMINOLOGY_IMPORT_FILES', default: '' },
    { name: 'TERMINOLOGY_LOAD_CORE', default: 'true' },
    { name: 'TERMINOLOGY_PORT', default: '3451' },
    { name: 'TERMINOLOGY_LOCAL_BASE_URLS', default: '' },
  ],
  'care-services': [
    { name: 'CARE_SERVICES_BODY_LIMIT_BYTES', default: '16777216' },
    { name: 'CARE_SERVICES_CONSUMER_INTERVAL_MS', default: '60000' },
    { name: 'CARE_SERVICES_CONSUMER_SOURCE_AUTHORIZATION', default: '' },
    { name: 'CARE_SERVICES_CONSUMER_SOURCE_URL', default: '' },
    { name: 'CARE_SERVICES_CONSUMER_TYPES', default: '' },
    { name: 'CARE_SERVICES_HOST', default: '127.0.0.1' },
    { name: 'CARE_SERVICES_PORT', default: '3455' },
    { name: 'CARE_SERVICES_LOCAL_BASE_URLS', default: '' },
  ],
};

export function serviceSettingNames(): string[] {
  return Object.values(SERVICE_SETTINGS).flatMap((settings) => settings.map((s) => s.name));
}
