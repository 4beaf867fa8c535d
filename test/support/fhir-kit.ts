/** fhir-kit-client, a real FHIR client, as the tests drive it. */
import FhirKitClient from 'fhir-kit-client';

// Its answers are untyped FHIR JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;
// The package is CommonJS with an ES-style `export default` in its types: take the class at runtime.
export type FhirClient = InstanceType<typeof FhirKitClient.default>;
export const FhirClient = ((FhirKitClient as unknown as { default?: unknown }).default ?? FhirKitClient) as unknown as new (options: { baseUrl: string }) => FhirClient;
