/**
 * Channel patterns are run against every routed request: a pattern V8 cannot compile without
 * running out of memory aborted the whole process on the first request (admin API, router and
 * FHIR with it), and a pattern with catastrophic backtracking (^/pub/(a+)+$) held the event loop
 * for seconds per request, before authentication on a public channel. Patterns are now bounded
 * (common/bounded-regexp.ts): at most 1,024 characters, no backreferences or lookarounds,
 * matched by V8's linear-time engine once a match backtracks too much, and a long text (a body)
 * matched under a deadline.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, eventually, startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';
import { boundedRegExp, boundedTest, MAX_PATTERN_LENGTH, PatternRefused } from '../../src/common/bounded-regexp.js';

const HUGE_NESTED = `${'(a|'.repeat(10_000)}${')'.repeat(10_000)}`;

test('boundedRegExp: ordinary patterns pass; huge, backreferencing and lookaround patterns are refused', () => {
  assert.ok(boundedRegExp('^/fhir/.*$').test('/fhir/Patient'));
  assert.ok(boundedRegExp('^/(fhir|api)/[^/]+/\\d+$').test('/api/x/12'));
  assert.throws(() => boundedRegExp(HUGE_NESTED), (e: unknown) => e instanceof PatternRefused && /longer than/.test(e.message));
  assert.throws(() => boundedRegExp('^/(a)\\1$'), (e: unknown) => e instanceof PatternRefused && /linear time/.test(e.message));
  assert.throws(() => boundedRegExp('^/(?!api).*'), (e: unknown) => e instanceof PatternRefused && /linear time/.test(e.message));
  assert.throws(() => boundedRegExp('^/(unclosed'), (e: unknown) => e instanceof PatternRefused && /not a valid/.test(e.message));
  // Catastrophic backtracking on the ordinary engine; finished by the linear one.
  assert.equal(boundedRegExp('^/pub/(a+)+$').test(`/pub/${'a'.repeat(5_000)}!`), false);
  assert.equal(boundedRegExp('(x|x)*$').test(`${'x'.repeat(5_000)}!`), true);
});

test('boundedTest: the linear engine costs per character with the pattern\'s size, so a long text is given up at the deadline', () => {
  // Optional alternatives: the linear engine keeps every one alive at each character (~70 µs a
  // character for 190 of them). 190 are refused as too long; 48 fit in the length cap.
  const group = '(?:a|b|c|d|e|f|g|h)?';
  assert.throws(() => boundedRegExp(`${group.repeat(190)}z`), (e: unknown) => e instanceof PatternRefused && /longer than/.test(e.message));
  const heavy = boundedRegExp(`${group.repeat(Math.floor((MAX_PATTERN_LENGTH - 1) / group.length))}z`);
  let givenUp = 0;
  // 1 MB of "a": ~15 s on the linear engine were it run to the end.
  assert.equal(boundedTest(heavy, 'a'.repeat(1_000_000), () => givenUp++), false);
  assert.equal(givenUp, 1, 'given up at the deadline, and said so');
  assert.equal(boundedTest(heavy, 'aaz'), true, 'a short text is matched directly');
  assert.equal(boundedTest(/^\/fhir\/.*$/, `/fhir/${'x'.repeat(10_000)}`), true, 'a long text under an ordinary pattern matches within the deadline');
});

describe(`channel patterns on ${testDrivers[0]}`, () => {
  let iol: Iol;
  let up: Upstream;
  const route = () => ({ name: 'p', host: '127.0.0.1', port: up.port, primary: true });
  before(async () => {
    up = await startUpstream();
    iol = await startIol(testDrivers[0]!);
    assert.equal((await iol.call('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: ['clinical'], password: 'emr-password-1' })).status, 201);
  });
  after(async () => {
    await iol?.stop();
    await up?.close();
  });

  test('the admin API refuses patterns that cannot be bounded, with the reason', async () => {
    for (const [field, pattern, reason] of [
      ['urlPattern', HUGE_NESTED, /longer than 1024/],
      ['urlPattern', '^/x/(?!admin).*$', /lookahead/],
      ['matchContentRegex', '(["a])\\1', /backreference/],
    ] as const) {
      const res = await iol.call('POST', '/channels', { name: `bad-${field}-${pattern.length}`, urlPattern: field === 'urlPattern' ? pattern : '^/ok$', [field]: pattern, authType: 'public', routes: [route()] });
      assert.equal(res.status, 400, `${field}: ${JSON.stringify(res.body).slice(0, 200)}`);
      assert.match(res.body.message, reason);
    }
    const transform = await iol.call('POST', '/channels', { name: 'bad-transform', urlPattern: '^/t$', authType: 'public', routes: [{ ...route(), pathTransform: 's/(a)\\1/b/' }] });
    assert.equal(transform.status, 400);
    assert.match(transform.body.message, /pathTransform/);
  });

  test('a catastrophic-backtracking pattern on a public channel cannot hold the router', async () => {
    assert.equal((await iol.call('POST', '/channels', { name: 'pub', urlPattern: '^/pub/(a+)+$', authType: 'public', routes: [route()] })).status, 201);
    await eventually(async () => (await fetch(`${iol.router}/pub/aaa`)).status === 200, 'the public channel routed');
    // 40 a's and a mismatch: ~2^40 steps on a backtracking engine (hours); the linear engine answers at once.
    const res = await fetch(`${iol.router}/pub/${'a'.repeat(40)}!`);
    assert.equal(res.status, 401, 'no channel matched, so the anonymous caller is refused');
    const authed = await fetch(`${iol.router}/pub/${'a'.repeat(40)}!`, { headers: { authorization: basic('emr', 'emr-password-1') } });
    assert.equal(authed.status, 404);
  });

  test('a stored pattern that cannot be bounded is skipped by the router, which goes on serving', async () => {
    // As if written by an older version, or straight into the database.
    const doc = { _id: 'stored-bad', name: 'stored-bad', urlPattern: HUGE_NESTED, type: 'http', status: 'enabled', authType: 'public', methods: [], allow: [], whitelist: [], routes: [route()] };
    await iol.t.db.query(`INSERT INTO iol.channels (id, name, doc) VALUES ('stored-bad', 'stored-bad', $1::jsonb)`, [JSON.stringify(doc)]);
    assert.equal((await iol.call('POST', '/channels', { name: 'after', urlPattern: '^/after$', authType: 'public', routes: [route()] })).status, 201);
    await eventually(async () => (await fetch(`${iol.router}/after`)).status === 200, 'a channel saved after it routed');
    assert.equal((await fetch(`${iol.router}/a`)).status, 401, 'the bad pattern never ran: the process is alive and no channel matched');
    assert.equal((await iol.call('GET', '/heartbeat')).status, 200);
  });
});
