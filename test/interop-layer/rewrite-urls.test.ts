/**
 * OpenHIM's URL rewriting (channel `rewriteUrls`, `addAutoRewriteRules`, `rewriteUrlsConfig`),
 * from its own integration test (urlRewriting.js: an upstream's `href` to itself comes back as a
 * link to the router) and its middleware's rules: user rules first, then one per channel's primary
 * route with its pathTransform inverted; `href`, `src`, `fullUrl` in JSON and XML; links without a
 * host get the path only; other answers pass unchanged. PGlite only: no storage in question.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { basic, startIol, startUpstream, type Iol, type Upstream } from './support.js';

describe('interop-layer router: rewriteUrls (OpenHIM urlRewriting)', () => {
  let iol: Iol;
  let up: Upstream;
  const auth = { authorization: basic('testApp', 'test-app-password-1') };
  const routerBase = () => iol.router;

  before(async () => {
    up = await startUpstream();
    iol = await startIol('pglite');
    assert.equal((await iol.call('POST', '/clients', { clientID: 'testApp', name: 'TEST Client', roles: ['PoC'], password: 'test-app-password-1' })).status, 201);
    const self = `http://localhost:${up.port}`;
    up.handle('/test/mock', (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ href: `${self}/test/mock` }));
    });
    up.handle('/ihris/bundle', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/fhir+json' });
      res.end(JSON.stringify({
        resourceType: 'Bundle', type: 'searchset',
        link: [{ relation: 'self', url: `${self}/ihris/Patient` }],
        entry: [{ fullUrl: `http://127.0.0.1:${up.port}/ihris/Patient/1` }, { fullUrl: 'http://elsewhere.example.org/fhir/Patient/2' }, { fullUrl: '/ihris/Patient/3' }],
      }));
    });
    up.handle('/ihris/xml', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/fhir+xml' });
      // 127.0.0.1 is the CSD route's host (localhost is the mock channel's, whose rule has no transform: the first rule wins).
      const csd = `http://127.0.0.1:${up.port}`;
      res.end(`<Bundle xmlns="http://hl7.org/fhir"><entry><fullUrl value="${csd}/ihris/Patient/1"/></entry></Bundle><a href='${csd}/ihris/page'>x</a>`);
    });
    up.handle('/ruled', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ src: 'http://legacy.example.org:8080/old/report.pdf', href: `${self}/test/mock` }));
    });
    up.handle('/gzipped', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify({ href: `${self}/test/mock` })));
    });
    up.handle('/plain', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ href: `${self}/test/mock` }));
    });
    const channel = async (name: string, body: Record<string, unknown>) => {
      const created = await iol.call('POST', '/channels', { name, allow: ['PoC'], methods: ['GET'], ...body });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body;
    };
    // OpenHIM's own test channel: rewriteUrls, addAutoRewriteRules left to its default (true).
    const mock = await channel('TEST DATA - Mock endpoint', { urlPattern: 'test/mock', routes: [{ name: 'test route', host: 'localhost', port: up.port, primary: true }], rewriteUrls: true });
    assert.equal(mock.addAutoRewriteRules, true, "OpenHIM's default");
    await channel('CSD', { urlPattern: '^/CSD/.*$', rewriteUrls: true, routes: [{ name: 'ihris', host: '127.0.0.1', port: up.port, primary: true, pathTransform: 's/CSD/ihris/' }] });
    await channel('ruled', {
      urlPattern: '^/ruled$', rewriteUrls: true, addAutoRewriteRules: false,
      rewriteUrlsConfig: [{ fromHost: 'legacy.example.org', fromPort: 8080, toHost: 'reports.example.org', toPort: 443, pathTransform: 's/old/new/' }],
      routes: [{ name: 'r', host: 'localhost', port: up.port, primary: true }],
    });
    await channel('gzipped', { urlPattern: '^/gzipped$', rewriteUrls: true, routes: [{ name: 'g', host: 'localhost', port: up.port, primary: true }] });
    await channel('plain', { urlPattern: '^/plain$', routes: [{ name: 'p', host: 'localhost', port: up.port, primary: true }] });
  });
  after(async () => {
    await iol?.stop();
    await up?.close();
  });

  test('should rewrite response urls (urlRewriting.js): the upstream\'s href comes back as the router\'s', async () => {
    const res = await fetch(`${routerBase()}/test/mock`, { headers: auth });
    assert.equal(res.status, 201);
    assert.equal((await res.json() as { href: string }).href, `${routerBase()}/test/mock`);
  });

  test('FHIR fullUrl and links: the inverted pathTransform; another host and a bare path as OpenHIM treats them', async () => {
    const res = await fetch(`${routerBase()}/CSD/bundle`, { headers: auth });
    assert.equal(res.status, 200);
    const bundle = await res.json() as { link: Array<{ url: string }>; entry: Array<{ fullUrl: string }> };
    assert.deepEqual(bundle.entry.map((e) => e.fullUrl), [`${routerBase()}/CSD/Patient/1`, 'http://elsewhere.example.org/fhir/Patient/2', '/CSD/Patient/3']);
    assert.equal(bundle.link[0]!.url, `http://localhost:${up.port}/ihris/Patient`, 'only href, src and fullUrl are links to OpenHIM');
    const xml = await (await fetch(`${routerBase()}/CSD/xml`, { headers: auth })).text();
    assert.ok(xml.includes(`<fullUrl value="${routerBase()}/CSD/Patient/1"/>`), xml);
    assert.ok(xml.includes(`<a href='${routerBase()}/CSD/page'>`), xml);
    // The stored answer is the one the client got.
    const logged = (await iol.call('GET', '/transactions?filterRepresentation=full&filterLimit=20')).body.find((t: { request: { path: string } }) => t.request.path === '/CSD/bundle');
    assert.ok(logged.response.body.includes(`${routerBase()}/CSD/Patient/1`));
  });

  test('rewriteUrlsConfig: the channel\'s own rules (host, port, protocol by port, path); no auto rules when addAutoRewriteRules is false', async () => {
    const body = await (await fetch(`${routerBase()}/ruled`, { headers: auth })).json() as { src: string; href: string };
    assert.equal(body.src, 'http://reports.example.org:443/new/report.pdf', 'http: 443 is not the router\'s HTTPS port');
    assert.equal(body.href, `http://localhost:${up.port}/test/mock`);
  });

  test('compressed answers and channels without rewriteUrls pass unchanged; bad rules are refused', async () => {
    const gz = await fetch(`${routerBase()}/gzipped`, { headers: auth });
    assert.equal((await gz.json() as { href: string }).href, `http://localhost:${up.port}/test/mock`);
    const plain = await fetch(`${routerBase()}/plain`, { headers: auth });
    assert.equal((await plain.json() as { href: string }).href, `http://localhost:${up.port}/test/mock`);
    const bad = await iol.call('POST', '/channels', { name: 'bad rule', urlPattern: '^/b$', rewriteUrls: true, rewriteUrlsConfig: [{ fromHost: 'a', toHost: 'b', fromPort: 1, toPort: 2, pathTransform: 'not a transform' }], routes: [{ name: 'r', host: 'localhost', port: up.port, primary: true }] });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    const badPort = await iol.call('POST', '/channels', { name: 'bad port', urlPattern: '^/b$', rewriteUrlsConfig: [{ fromHost: 'a', toHost: 'b', fromPort: 0, toPort: 2 }], routes: [{ name: 'r', host: 'localhost', port: up.port, primary: true }] });
    assert.equal(badPort.status, 400);
  });
});
