import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InstantError } from '../common/errors.js';

/**
 * `instant package new <id>`: a working custom package with its own Node service (a small
 * HTTP API with its own schema), a feature file that proves it, and a README.
 */
export function scaffoldPackage(id: string, parentDir: string, options: { port?: number } = {}): string {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(id)) {
    throw new InstantError('INSTANT_PACKAGE_ID_INVALID', `"${id}" is not a valid package id`, 'use kebab-case: lower-case letters, digits and single dashes, e.g. my-mediator');
  }
  const dir = resolve(parentDir, id);
  if (existsSync(dir)) throw new InstantError('INSTANT_PACKAGE_EXISTS', `${dir} already exists`, 'choose another id or --dir');
  const envPrefix = id.replace(/-/g, '_').toUpperCase();
  const schema = id.replace(/-/g, '_');
  const port = options.port ?? 4100;
  mkdirSync(join(dir, 'features'), { recursive: true });

  const metadata = {
    $schema: 'https://instant-openhie.dev/schemas/package-metadata.schema.json',
    id,
    name: id.split('-').map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' '),
    description: `The ${id} package: describe the use case it supports.`,
    type: 'use-case',
    version: '0.1.0',
    dependencies: [],
    environmentVariables: { [`${envPrefix}_HOST`]: '127.0.0.1', [`${envPrefix}_PORT`]: String(port) },
    services: [{ name: id, module: 'service.mjs' }],
    features: 'features',
    usage: [`${id}: curl http://\${${envPrefix}_HOST}:\${${envPrefix}_PORT}/notes`],
  };
  writeFileSync(join(dir, 'package-metadata.json'), `${JSON.stringify(metadata, null, 2)}\n`);

  writeFileSync(
    join(dir, 'service.mjs'),
    `// The ${id} service: a small JSON API over its own database schema.
// Instant starts it (embedded target) with ctx = { name, db, settings, logger, stateDir }.
import { createServer } from 'node:http';

const migrations = [
  { version: 1, name: 'notes', sql: 'CREATE TABLE ${schema}.notes (id serial PRIMARY KEY, text text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())' },
];

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export default {
  name: '${id}',
  description: 'The ${id} service',
  schemas: ['${schema}'],
  async start(ctx) {
    await ctx.db.migrate('${schema}', migrations);
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', async () => {
        try {
          if (req.url === '/health') return reply(res, 200, { status: 'ok' });
          if (req.url === '/notes' && req.method === 'GET') {
            const { rows } = await ctx.db.query('SELECT id, text FROM ${schema}.notes ORDER BY id');
            return reply(res, 200, { total: rows.length, notes: rows });
          }
          if (req.url === '/notes' && req.method === 'POST') {
            let note;
            try {
              note = JSON.parse(body);
            } catch {
              return reply(res, 400, { error: 'the body is not JSON' });
            }
            if (typeof note?.text !== 'string' || !note.text) return reply(res, 400, { error: 'a note needs a non-empty "text"' });
            const { rows } = await ctx.db.query('INSERT INTO ${schema}.notes (text) VALUES ($1) RETURNING id, text', [note.text]);
            return reply(res, 201, rows[0]);
          }
          reply(res, 404, { error: 'not found' });
        } catch (error) {
          ctx.logger.error({ err: error }, 'request failed');
          reply(res, 500, { error: 'internal error' });
        }
      });
    });
    const host = ctx.settings.get('${envPrefix}_HOST') ?? '127.0.0.1';
    const port = ctx.settings.int('${envPrefix}_PORT', ${port});
    await new Promise((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
    const url = \`http://\${host}:\${server.address().port}\`;
    return {
      endpoints: { http: url },
      healthUrl: \`\${url}/health\`,
      stop: () => new Promise((resolve) => server.close(() => resolve())),
    };
  },
};
`,
  );

  writeFileSync(
    join(dir, 'features', `${id}.feature`),
    `Feature: ${metadata.name} keeps notes
  Scenario: A note that is posted can be read back
    When I send a POST request to "\${${envPrefix.replace(/[^A-Z0-9]/g, '_')}_HTTP_URL}/notes" with the body:
      """
      { "text": "hello from ${id}" }
      """
    Then the response status is 201
    When I send a GET request to "\${${envPrefix}_HTTP_URL}/notes"
    Then the response status is 200
    And the response body contains "hello from ${id}"

  Scenario: A note without text is refused
    When I send a POST request to "\${${envPrefix}_HTTP_URL}/notes" with the body:
      """
      { "title": "no text" }
      """
    Then the response status is 400
`,
  );

  writeFileSync(
    join(dir, 'README.md'),
    `# ${id}

A custom Instant OpenHIE package.

    instant init ${id} -c ${parentDir === process.cwd() ? '.' : parentDir} -d   # deploy it
    instant test ${id} -c ${parentDir === process.cwd() ? '.' : parentDir}      # run features/ against it
    instant down                                                               # stop it

- package-metadata.json: what the package is, its settings and services (docs/package-format.md).
- service.mjs: its service, started in the instant process; it owns the schema \`${schema}\`.
- features/: Gherkin scenarios run by \`instant test\`.
`,
  );
  return dir;
}
