/**
 * The console's pure pieces, without a browser or a server: the architecture graph, the URL
 * tester's matching rule, the transaction filters, the session store and the cookie jar.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFlowGraph } from '../../console/src/flow-graph.js';
import type { Channel, Client, Mediator, Transaction } from '../../console/src/models.js';
import { filtersJson } from '../../console/src/transaction-filters.js';
import { firstMatchingChannel, patternMatches } from '../../console/src/url-match.js';
import { applySetCookies } from '../../src/services/console/admin-api-proxy.js';
import { refusedApiPath } from '../../src/services/console/admin-api-proxy.js';
import { ConsoleLoginThrottle } from '../../src/services/console/login-throttle.js';
import { registryUrl } from '../../src/services/console/registry-path.js';
import { ConsoleSessions } from '../../src/services/console/sessions.js';
import { AVAILABILITY_CACHE_MS, RegistryAvailability } from '../../src/services/console/registry-availability.js';

const route = (port: number) => ({ name: `r${port}`, host: '127.0.0.1', port, primary: true });

test('the flow graph: client → router → mediator (by its endpoint) → the services it called; edges keep the newest status', () => {
  const channels: Channel[] = [
    { _id: 'c1', name: 'registration', urlPattern: '^/reg', routes: [route(3449)] },
    { _id: 'c2', name: 'fhir', urlPattern: '^/fhir', routes: [route(3447)] },
  ];
  const clients: Client[] = [{ _id: 'k1', clientID: 'clinic', name: 'Clinic', roles: [] }];
  const mediators: Mediator[] = [{ urn: 'urn:m', name: 'Registration mediator', version: '1', endpoints: [route(3449)] }];
  const tx = (id: string, channelID: string, status: Transaction['status'], orchestrations: Transaction['orchestrations'] = []): Transaction =>
    ({ _id: id, channelID, clientID: 'k1', status, request: { path: '/x', method: 'POST' }, orchestrations });
  // Newest first, as GET /transactions answers.
  const graph = buildFlowGraph([
    tx('t3', 'c1', 'Failed', [{ name: 'register', request: { host: '127.0.0.1', port: 3448 } }]),
    tx('t2', 'c2', 'Successful'),
    tx('t1', 'c1', 'Successful', [{ name: 'register', request: { host: '127.0.0.1', port: 3448 } }, { name: 'visit', request: { host: '127.0.0.1', port: 3447 } }]),
  ], channels, clients, mediators);
  assert.deepEqual(graph.flows.map((f) => f.transaction._id), ['t3', 't2', 't1']);
  assert.deepEqual(graph.flows[2]!.path, ['client:k1', 'router', 'mediator:urn:m', 'service:127.0.0.1:3448', 'service:127.0.0.1:3447']);
  assert.deepEqual(graph.flows[1]!.path, ['client:k1', 'router', 'upstream:127.0.0.1:3447']);
  const edge = (id: string) => graph.edges.find((e) => e.id === id);
  assert.deepEqual([edge('client:k1>router')?.count, edge('client:k1>router')?.status, edge('client:k1>router')?.transactionId], [3, 'Failed', 't3']);
  assert.equal(edge('router>mediator:urn:m')?.status, 'Failed', 'the newest transaction colours the edge');
  assert.ok(edge('mediator:urn:m>service:127.0.0.1:3447'), 'orchestrations hang off the mediator, not off each other');
  assert.equal(edge('service:127.0.0.1:3448>service:127.0.0.1:3447'), undefined);
  assert.equal(graph.nodes.find((n) => n.id === 'client:k1')?.label, 'clinic');
});

test('the URL tester follows the router: enabled channels by priority, unanchored patterns, methods', () => {
  const channels: Channel[] = [
    { _id: 'a', name: 'any fhir', urlPattern: '/fhir', priority: 5 },
    { _id: 'b', name: 'patients', urlPattern: '^/fhir/Patient', priority: 1, methods: ['POST'] },
    { _id: 'c', name: 'disabled', urlPattern: '.*', priority: 0, status: 'disabled' },
    { _id: 'd', name: 'no methods', urlPattern: '/fhir', priority: 2, methods: [] },
  ];
  assert.equal(firstMatchingChannel(channels, '/fhir/Patient', 'POST')?.name, 'patients');
  assert.equal(firstMatchingChannel(channels, '/fhir/Patient', 'GET')?.name, 'any fhir');
  assert.equal(firstMatchingChannel(channels, '/api/fhir/x', 'GET')?.name, 'any fhir', 'unanchored, as OpenHIM');
  assert.equal(firstMatchingChannel(channels, '/other', 'GET'), undefined);
  assert.ok(!channels.filter((c) => c.methods?.length === 0).some((c) => c === firstMatchingChannel(channels, '/fhir/x', 'GET')), 'an empty methods list matches nothing');
  assert.equal(patternMatches('^/e2e/(', '/e2e/x'), 'invalid');
});

test('the transaction filters become OpenHIM\'s filters JSON, dates as ISO bounds', () => {
  assert.equal(filtersJson({ channelID: '', status: '', clientID: '', from: '', to: '' }), undefined);
  const json = JSON.parse(filtersJson({ channelID: 'c1', status: 'Failed', clientID: 'k1', from: '2026-12-01T10:00', to: '' })!);
  assert.equal(json.channelID, 'c1');
  assert.equal(json.status, 'Failed');
  assert.equal(json.clientID, 'k1');
  assert.equal(json['request.timestamp'].$gte, new Date('2026-12-01T10:00').toISOString());
  assert.equal(json['request.timestamp'].$lte, undefined);
});

test('sessions expire when idle, are touched by use, and past the cap the oldest go', () => {
  let now = 1_000;
  const sessions = new ConsoleSessions(100, 2, () => now);
  const a = sessions.create(new Map(), { email: 'a' }, 'a');
  assert.notEqual(a.session.csrfToken, a.id, 'the CSRF token is not the session id');
  now += 90;
  assert.ok(sessions.touch(a.id), 'used within the idle time');
  now += 90;
  assert.ok(sessions.touch(a.id), 'touching restarted its idle time');
  now += 101;
  assert.equal(sessions.touch(a.id), undefined, 'idle too long');
  const b = sessions.create(new Map(), {}, 'b');
  const c = sessions.create(new Map(), {}, 'c');
  const d = sessions.create(new Map(), {}, 'd');
  assert.equal(sessions.size, 2);
  assert.equal(sessions.touch(b.id), undefined, 'the oldest made room');
  assert.ok(sessions.touch(c.id) && sessions.touch(d.id));
  assert.equal(sessions.touch('made-up'), undefined);
  assert.ok(sessions.end(c.id));
  assert.equal(sessions.touch(c.id), undefined);
});

test('the admin API\'s cookies are kept, replaced and dropped as Set-Cookie says', () => {
  const jar = new Map<string, string>();
  applySetCookies(jar, ['iol.session=abc; Path=/; HttpOnly; SameSite=Strict', 'koa.sess=x; path=/']);
  assert.deepEqual([...jar], [['iol.session', 'abc'], ['koa.sess', 'x']]);
  applySetCookies(jar, ['iol.session=def; Path=/', 'koa.sess=; Max-Age=0']);
  assert.deepEqual([...jar], [['iol.session', 'def']]);
  applySetCookies(jar, ['iol.session=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT']);
  assert.equal(jar.size, 0);
});

test('per user, past the cap that user\'s own oldest session goes and is handed back to be logged out; background use does not extend', () => {
  let now = 0;
  const sessions = new ConsoleSessions(100, 100, () => now, 2);
  const other = sessions.create(new Map(), {}, 'other@example.org');
  const first = sessions.create(new Map(), {}, 'Flood@example.org');
  assert.deepEqual(sessions.create(new Map(), {}, 'flood@example.org').dropped, []);
  const third = sessions.create(new Map(), {}, 'flood@example.org');
  assert.deepEqual(third.dropped, [first.session]);
  assert.equal(sessions.touch(first.id), undefined);
  assert.ok(sessions.touch(other.id));
  now = 60;
  assert.ok(sessions.touch(other.id, false), 'polling sees the session');
  now = 101;
  assert.equal(sessions.touch(other.id), undefined, 'but did not extend its idle time');
});

test('the console\'s login throttle: per user and address, per address; a success clears the user\'s count', () => {
  let now = 0;
  const throttle = new ConsoleLoginThrottle({ maxFailures: 2, maxFailuresPerAddress: 3, windowMs: 1_000 }, () => now);
  throttle.failed('u', '10.0.0.1');
  assert.equal(throttle.retryAfterMs('u', '10.0.0.1'), 0);
  throttle.failed('U', '10.0.0.1');
  assert.equal(throttle.retryAfterMs('u', '10.0.0.1'), 1_000);
  assert.equal(throttle.retryAfterMs('u', '10.0.0.2'), 0, 'the user from elsewhere is not throttled');
  assert.equal(throttle.retryAfterMs('v', '10.0.0.1'), 0);
  throttle.failed('w', '10.0.0.1');
  assert.ok(throttle.retryAfterMs('v', '10.0.0.1') > 0, 'spraying from one address');
  now = 1_000;
  assert.equal(throttle.retryAfterMs('u', '10.0.0.1'), 0, 'the window passed');
});

test('/api paths are checked decoded and normalised; registry paths stay under the FHIR base', () => {
  for (const p of ['/logout', '/%6cogout', '/%4C%4FGOUT?x', '//logout', '/authenticate/local', '/%61uthenticate/x']) assert.equal(refusedApiPath(p)?.status, 404, p);
  for (const p of ['/channels/../logout', '/channels/%2e%2e/logout', '/%2E/channels', '/%zz']) assert.equal(refusedApiPath(p)?.status, 400, p);
  assert.equal(refusedApiPath('/channels?logout=1'), undefined);
  assert.equal(refusedApiPath('/logouts'), undefined);
  // An encoded slash stays inside its segment (fetch and the admin API keep it there): a user whose address is x/../y@… (valid) can be edited.
  assert.equal(refusedApiPath(`/users/${encodeURIComponent('x/../y@example.org')}`), undefined);
  for (const p of ['/channels\\..\\logout', '/channels/%2E%2e']) assert.equal(refusedApiPath(p)?.status, 400, p);
  const base = 'http://127.0.0.1:1/fhir';
  assert.deepEqual(registryUrl(base, 'Patient/p1/$everything', '_count=5'), { url: `${base}/Patient/p1/$everything?_count=5` });
  assert.ok('refused' in registryUrl(base, '../health', ''));
  assert.ok('refused' in registryUrl(base, 'Patient/./x', ''));
  assert.deepEqual(registryUrl(base, 'Patient/a/b?c#d', ''), { url: `${base}/Patient/a/b%3Fc%23d` });
});

test('registry availability: one probe per registry reused for a few seconds, then asked again; an unset base is never probed', async () => {
  let now = 0;
  let up = false;
  const probed: string[] = [];
  const availability = new RegistryAvailability({ shr: 'http://shr/fhir' }, () => now, async (base) => {
    probed.push(base);
    return up;
  });
  assert.deepEqual(await availability.upNow(), { shr: false, cr: false });
  up = true;
  now = AVAILABILITY_CACHE_MS - 1;
  assert.equal(await availability.baseIfUp('shr'), undefined, 'within the cache the old answer stands');
  now = AVAILABILITY_CACHE_MS;
  assert.equal(await availability.baseIfUp('shr'), 'http://shr/fhir', 'after it the registry is asked again');
  assert.deepEqual(probed, ['http://shr/fhir', 'http://shr/fhir']);
});

test('the flow graph shows the running components before any traffic, greyed; traffic makes them active', () => {
  const channels: Channel[] = [
    { _id: 'c1', name: 'registration', urlPattern: '^/reg', routes: [route(3449)] },
    { _id: 'c2', name: 'fhir', urlPattern: '^/fhir', routes: [route(3447)] },
    { _id: 'c3', name: 'off', urlPattern: '^/off', routes: [route(3999)], status: 'disabled' },
  ];
  const mediators: Mediator[] = [
    { urn: 'urn:m', name: 'Registration mediator', version: '1', endpoints: [route(3449)] },
    { urn: 'urn:idle', name: 'Idle mediator', version: '1', endpoints: [] },
  ];
  const registries = [
    { id: 'shr', name: 'shared-health-record', host: '127.0.0.1', port: '3447' },
    { id: 'cr', name: 'client-registry', host: '127.0.0.1', port: '3448' },
  ];
  const fresh = buildFlowGraph([], channels, [], mediators, registries);
  const node = (graph: typeof fresh, id: string) => graph.nodes.find((n) => n.id === id);
  assert.deepEqual(fresh.nodes.map((n) => n.id).sort(), ['mediator:urn:idle', 'mediator:urn:m', 'router', 'service:127.0.0.1:3448', 'upstream:127.0.0.1:3447'].sort());
  assert.ok(fresh.nodes.filter((n) => n.id !== 'router').every((n) => n.idle), 'everything but the router is idle on a fresh stack');
  assert.equal(node(fresh, 'upstream:127.0.0.1:3447')?.label, 'Shared health record (127.0.0.1:3447)', 'a channel routing straight to a registry is that registry');
  assert.deepEqual(fresh.links.map((l) => l.id).sort(), ['router>mediator:urn:m', 'router>upstream:127.0.0.1:3447'], 'enabled channels only');
  assert.equal(fresh.edges.length, 0);
  // One transaction through the mediator to the client registry: those become active, the rest stay idle.
  const busy = buildFlowGraph([
    { _id: 't1', channelID: 'c1', status: 'Successful', request: { path: '/reg', method: 'POST' }, orchestrations: [{ name: 'register', request: { host: '127.0.0.1', port: 3448 } }] },
  ], channels, [], mediators, registries);
  assert.equal(node(busy, 'mediator:urn:m')?.idle, false);
  assert.equal(node(busy, 'service:127.0.0.1:3448')?.idle, false);
  assert.equal(node(busy, 'service:127.0.0.1:3448')?.label, 'register (127.0.0.1:3448)', 'the traffic label stands');
  assert.equal(node(busy, 'mediator:urn:idle')?.idle, true);
  assert.deepEqual(busy.links.map((l) => l.id), ['router>upstream:127.0.0.1:3447'], 'a link with traffic is an edge, not a configured link');
  // Without addresses (a non-admin), a registry is its own node by name.
  assert.ok(buildFlowGraph([], [], [], [], [{ id: 'cr', name: 'client-registry' }]).nodes.some((n) => n.id === 'registry:cr' && n.label === 'Client registry' && n.idle));
});

test('wrapLabel: a package name wraps at word boundaries instead of being cut', async () => {
  const { wrapLabel } = await import('../../console/src/text-wrap.js');
  assert.deepEqual(wrapLabel('Interoperability Layer (OpenHIM-compatible)', 30, 2), ['Interoperability Layer', '(OpenHIM-compatible)']);
  assert.deepEqual(wrapLabel('Web console', 30, 2), ['Web console']);
  assert.deepEqual(wrapLabel('one two three', 5, 2), ['one', 'two…'], 'what still does not fit is clipped');
  assert.deepEqual(wrapLabel('Supercalifragilisticexpialidocious', 10, 2), ['Supercali…']);
});

test('subjectOf: a certificate with only a common name shows it as its subject', async () => {
  const { subjectOf } = await import('../../console/src/certificate-subject.js');
  assert.equal(subjectOf({ commonName: 'him.ministry.example' }), 'him.ministry.example');
  assert.equal(subjectOf({ commonName: 'him', organization: 'Ministry of Health', country: 'ZM' }), 'him, Ministry of Health, ZM');
  assert.equal(subjectOf({}), '–');
});

test('hash routes: an id its link encodes comes back as it was (a mediator urn with %), and bad escapes do not throw', async () => {
  const { pathOfHash, pathParts } = await import('../../console/src/hash-path.js');
  const link = (urn: string) => `#/mediators/${encodeURIComponent(urn)}`;
  assert.deepEqual(pathParts(pathOfHash(link('urn:mediator:load-100%'))), ['', 'mediators', 'urn:mediator:load-100%']);
  assert.deepEqual(pathParts(pathOfHash(link('urn:mediator:a%2Fb'))), ['', 'mediators', 'urn:mediator:a%2Fb'], 'decoded once, not twice');
  assert.deepEqual(pathParts(pathOfHash('#/channels/%')), ['', 'channels', '%'], 'a typed bad escape is kept as written');
  assert.deepEqual(pathParts(pathOfHash('#!/transactions/abc')), ['', 'transactions', 'abc'], "OpenHIM's #!/ links");
  assert.equal(pathOfHash(''), '/');
});

test('prettyBody indents JSON as sent: decimals keep their digits, big integers are not rounded', async () => {
  const { prettyBody } = await import('../../console/src/pretty-body.js');
  const sent = '{"resourceType":"Observation","valueQuantity":{"value":1.50},"id":12345678901234567890,"note":"a {b}, \\"c\\": [d]","e":[],"f":{},"g":[1e3, true,null]}';
  assert.equal(prettyBody(sent), [
    '{', '  "resourceType": "Observation",', '  "valueQuantity": {', '    "value": 1.50', '  },', '  "id": 12345678901234567890,',
    '  "note": "a {b}, \\"c\\": [d]",', '  "e": [],', '  "f": {},', '  "g": [', '    1e3,', '    true,', '    null', '  ]', '}'].join('\n'));
  const plain = '{"a":[1,{"b":"x"}],"c":"d"}';
  assert.equal(prettyBody(plain), JSON.stringify(JSON.parse(plain), null, 2), 'the layout is JSON.stringify\'s');
  assert.equal(prettyBody('{not json'), '{not json');
  assert.equal(prettyBody('<a> <b/></a>'), '<a>\n<b/>\n</a>');
  assert.equal(prettyBody(undefined), '');
});
