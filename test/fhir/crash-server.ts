/** Child process for the crash test: serves a FHIR engine on the database given in argv, prints its base URL. */
import { createHttpApp, listenOn } from '../../src/common/http-app.js';
import { createLogger } from '../../src/common/logger.js';
import { openDatabase } from '../../src/db/open.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { registerFhirRoutes } from '../../src/fhir/http/fastify.js';

const location = JSON.parse(process.argv[2]!) as { dataDir: string } | { url: string };
const db = await openDatabase(location);
const engine = new FhirEngine({ db, schema: 'fhir_crash' });
await engine.migrate();
const app = createHttpApp({ logger: createLogger() });
await registerFhirRoutes(app, engine);
const url = await listenOn(app, '127.0.0.1', 0);
engine.setBaseUrl(`${url}/fhir`);
process.stdout.write(`${url}/fhir\n`);
