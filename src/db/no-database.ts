/**
 * The database handle of a service that declared it uses none (ServiceDefinition.usesDatabase
 * false), where no database was opened (`instant serve`): any use is a programming error, said
 * plainly instead of a connection attempt to a server the container was never told about.
 */
import { InstantError } from '../common/errors.js';
import type { Database } from './database.js';

export function noDatabase(service: string): Database {
  const refuse = async (): Promise<never> => {
    throw new InstantError('INSTANT_DATABASE_NOT_DECLARED', `service ${service} declared usesDatabase: false, so no database was opened for it`, 'declare usesDatabase true (or leave it out) in the service definition');
  };
  return { kind: 'postgres', query: refuse, exec: refuse, transaction: refuse, migrate: refuse, dropSchema: refuse, close: async () => undefined };
}
