/** The mediator's config: defaults from the settings, changed from the console (configDefs), delivered by the heartbeat. */
import type { ConfigDef } from '@instant-openhie/mediator-sdk';

export interface RegistrationConfig extends Record<string, unknown> {
  /** FHIR base of the client registry, e.g. http://127.0.0.1:3448/clientregistry/fhir. */
  clientRegistryBaseUrl: string;
  /** FHIR base of the shared health record, e.g. http://127.0.0.1:3447/fhir. */
  sharedHealthRecordBaseUrl: string;
  /** The system of the enterprise identifier (the golden record's id) given back to clinics. */
  enterpriseIdSystem: string;
}

export const CONFIG_DEFS: ConfigDef[] = [
  { param: 'clientRegistryBaseUrl', displayName: 'FHIR base URL of the client registry', type: 'string' },
  { param: 'sharedHealthRecordBaseUrl', displayName: 'FHIR base URL of the shared health record', type: 'string' },
  { param: 'enterpriseIdSystem', displayName: 'Identifier system of the enterprise id', type: 'string' },
];

export const DEFAULT_ENTERPRISE_ID_SYSTEM = 'http://instant-openhie.org/fhir/sid/enterprise-id';
