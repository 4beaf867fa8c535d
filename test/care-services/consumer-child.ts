/**
 * Child process for the update consumer's kill -9 test: runs the care-services service on the
 * database in argv[2] with the settings in argv[3] (a consumer source among them) and prints its
 * base URL (http://host:port) once listening.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/common/logger.js';
import { openDatabase } from '../../src/db/open.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { careServicesService } from '../../src/services/care-services/index.js';

const location = JSON.parse(process.argv[2]!) as { dataDir: string } | { url: string };
const settings = JSON.parse(process.argv[3]!) as Record<string, string>;
const db = await openDatabase(location);
const running = await careServicesService.start({
  name: 'care-services', db, logger: createLogger(), stateDir: await mkdtemp(join(tmpdir(), 'instant-cs-child-')),
  settings: new SettingsMap({ CARE_SERVICES_PORT: '0', ...settings }),
});
process.stdout.write(`${running.endpoints.api}\n`);
