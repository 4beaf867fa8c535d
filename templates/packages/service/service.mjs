// The __ID__ service: a small JSON API over its own database schema.
// Instant starts it (embedded target) with ctx = { name, db, settings, logger, stateDir }.
import { createServer } from 'node:http';

const migrations = [
  { version: 1, name: 'notes', sql: 'CREATE TABLE __SCHEMA__.notes (id serial PRIMARY KEY, text text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())' },
];

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export default {
  name: '__ID__',
  description: 'The __ID__ service',
  schemas: ['__SCHEMA__'],
  async start(ctx) {
    await ctx.db.migrate('__SCHEMA__', migrations);
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', async () => {
        try {
          if (req.url === '/health') return reply(res, 200, { status: 'ok' });
          if (req.url === '/notes' && req.method === 'GET') {
            const { rows } = await ctx.db.query('SELECT id, text FROM __SCHEMA__.notes ORDER BY id');
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
            const { rows } = await ctx.db.query('INSERT INTO __SCHEMA__.notes (text) VALUES ($1) RETURNING id, text', [note.text]);
            return reply(res, 201, rows[0]);
          }
          reply(res, 404, { error: 'not found' });
        } catch (error) {
          ctx.logger.error({ err: error }, 'request failed');
          reply(res, 500, { error: 'internal error' });
        }
      });
    });
    const host = ctx.settings.get('__ENV___HOST') ?? '127.0.0.1';
    const port = ctx.settings.int('__ENV___PORT', __PORT__);
    await new Promise((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
    const url = `http://${host}:${server.address().port}`;
    return {
      endpoints: { http: url },
      healthUrl: `${url}/health`,
      stop: () => new Promise((resolve) => server.close(() => resolve())),
    };
  },
};
