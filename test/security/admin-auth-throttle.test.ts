/**
 * Login throttling on a fake clock: LoginThrottle (counting, the window, bounded memory) and
 * LoginGuard, the policy that must not let an attacker lock a real user out (issue 7, 18).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginGuard, LoginThrottle, addressBucket } from '../../src/services/interop-layer/api/login-throttle.js';

test('throttles a key after its maxFailures within the window, until the window passes', () => {
  let now = 1_000;
  const throttle = new LoginThrottle(10_000, () => now);
  const key = { key: 'a', maxFailures: 3 };
  for (let i = 0; i < 2; i++) throttle.fail(['a']);
  assert.equal(throttle.retryAfterMs([key]), 0, 'two failures: not yet');
  throttle.fail(['a']);
  assert.equal(throttle.retryAfterMs([key]), 10_000);
  assert.equal(throttle.retryAfterMs([{ key: 'a', maxFailures: 4 }]), 0, 'the threshold is per key');
  now += 9_999;
  assert.equal(throttle.retryAfterMs([key]), 1);
  now += 1;
  assert.equal(throttle.retryAfterMs([key]), 0, 'the window has passed');
  throttle.fail(['a']);
  assert.equal(throttle.retryAfterMs([key]), 0, 'a new window starts counting from one');
});

test('memory stays bounded when an attacker cycles through names', () => {
  const throttle = new LoginThrottle(60_000, () => 0);
  for (let i = 0; i < 100_050; i++) throttle.fail([`user:${i}`]);
  assert.equal((throttle as unknown as { counters: Map<string, unknown> }).counters.size, 100_000);
  assert.equal(throttle.retryAfterMs([{ key: 'user:100049', maxFailures: 1 }]), 60_000, 'the newest keys are kept');
});

const settings = { maxFailures: 3, maxFailuresPerAddress: 30, maxFailuresPerUser: 30, windowMs: 10_000 };

test('one user from one address: locked after maxFailures there, not elsewhere; a success clears it', async () => {
  let now = 0;
  const guard = new LoginGuard(settings, () => now);
  for (let i = 0; i < 2; i++) await guard.failed('Admin@x', '10.0.0.1');
  await guard.succeeded('admin@x', '10.0.0.1');
  for (let i = 0; i < 2; i++) await guard.failed('admin@x', '10.0.0.1');
  assert.equal(await guard.retryAfterMs('admin@x', '10.0.0.1'), 0, 'the success cleared the count');
  await guard.failed('ADMIN@x', '10.0.0.1');
  assert.equal(await guard.retryAfterMs('admin@x', '10.0.0.1'), 10_000, 'names are compared without case');
  assert.equal(await guard.retryAfterMs('admin@x', '10.0.0.2'), 0, 'another address is not affected');
  assert.equal(await guard.retryAfterMs('clerk@x', '10.0.0.1'), 0, 'another user on that address is not affected');
  now += 10_000;
  assert.equal(await guard.retryAfterMs('admin@x', '10.0.0.1'), 0, 'the window has passed');
});

test('failures for made-up users from an address do not lock the real user there, up to the per-address threshold', async () => {
  const guard = new LoginGuard(settings, () => 0);
  for (let i = 0; i < 29; i++) await guard.failed(`made-up-${i}@x`, '127.0.0.1');
  assert.equal(await guard.retryAfterMs('admin@x', '127.0.0.1'), 0);
  await guard.failed('made-up-29@x', '127.0.0.1');
  assert.equal(await guard.retryAfterMs('admin@x', '127.0.0.1'), 10_000, 'password spraying: the address is throttled');
  assert.equal(await guard.retryAfterMs('admin@x', '127.0.0.2'), 0);
});

test('a real success does not reset what the address did (a sprayer behind the same NAT keeps its count)', async () => {
  const guard = new LoginGuard(settings, () => 0);
  for (let i = 0; i < 29; i++) await guard.failed(`made-up-${i}@x`, '127.0.0.1');
  await guard.succeeded('admin@x', '127.0.0.1');
  await guard.failed('made-up-29@x', '127.0.0.1');
  assert.ok(await guard.retryAfterMs('someone@x', '127.0.0.1') > 0);
});

test('distributed guessing locks a user out of new addresses, never out of one it logged in from', async () => {
  const guard = new LoginGuard(settings, () => 0);
  await guard.succeeded('admin@x', '192.0.2.1');
  // 30 addresses, each below the pair threshold.
  for (let a = 0; a < 15; a++) for (let i = 0; i < 2; i++) await guard.failed('admin@x', `198.51.100.${a}`);
  assert.equal(await guard.retryAfterMs('admin@x', '203.0.113.7'), 10_000, 'a new address is refused for that user');
  assert.equal(await guard.retryAfterMs('admin@x', '192.0.2.1'), 0, 'where the user logged in, it still may');
  assert.equal(await guard.retryAfterMs('clerk@x', '203.0.113.7'), 0, 'other users are not affected');
});

test('an IPv6 /64 counts as one address; IPv4-mapped addresses as their IPv4 address', async () => {
  assert.equal(addressBucket('2001:db8:1:2:aaaa::1'), addressBucket('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'));
  assert.notEqual(addressBucket('2001:db8:1:2::1'), addressBucket('2001:db8:1:3::1'));
  assert.equal(addressBucket('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(addressBucket('::1'), '0:0:0:0::/64');
  const guard = new LoginGuard(settings, () => 0);
  for (let i = 0; i < 3; i++) await guard.failed('admin@x', `2001:db8:1:2::${i + 1}`);
  assert.ok(await guard.retryAfterMs('admin@x', '2001:db8:1:2::99') > 0, 'a fresh address in the same /64 does not get fresh guesses');
});
