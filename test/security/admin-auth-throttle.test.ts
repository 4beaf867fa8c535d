/** LoginThrottle (api/login-throttle.ts) on a fake clock: counting, the window, reset, bounded memory. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginThrottle } from '../../src/services/interop-layer/api/login-throttle.js';

test('throttles a key after maxFailures within the window, until the window passes', () => {
  let now = 1_000;
  const throttle = new LoginThrottle(3, 10_000, () => now);
  const keys = ['user:a', 'address:1.2.3.4'];
  for (let i = 0; i < 2; i++) throttle.fail(keys);
  assert.equal(throttle.retryAfterMs(keys), 0, 'two failures: not yet');
  throttle.fail(keys);
  assert.equal(throttle.retryAfterMs(keys), 10_000);
  assert.equal(throttle.retryAfterMs(['user:b', 'address:1.2.3.4']), 10_000, 'the address is throttled for any user');
  assert.equal(throttle.retryAfterMs(['user:b', 'address:5.6.7.8']), 0);
  now += 9_999;
  assert.equal(throttle.retryAfterMs(keys), 1);
  now += 1;
  assert.equal(throttle.retryAfterMs(keys), 0, 'the window has passed');
  throttle.fail(keys);
  assert.equal(throttle.retryAfterMs(keys), 0, 'a new window starts counting from one');
});

test('a success clears the count', () => {
  const throttle = new LoginThrottle(2, 10_000, () => 0);
  throttle.fail(['user:a']);
  throttle.succeed(['user:a']);
  throttle.fail(['user:a']);
  assert.equal(throttle.retryAfterMs(['user:a']), 0);
});

test('memory stays bounded when an attacker cycles through names', () => {
  const throttle = new LoginThrottle(1, 60_000, () => 0);
  for (let i = 0; i < 100_050; i++) throttle.fail([`user:${i}`]);
  assert.equal((throttle as unknown as { counters: Map<string, unknown> }).counters.size, 100_000);
  assert.equal(throttle.retryAfterMs(['user:100049']), 60_000, 'the newest keys are kept');
});
