/**
 * Code systems cached by url are dropped when any process commits a CodeSystem write: a second
 * engine on the same PostgreSQL database (another process, in effect) sees a new version of a code
 * system at once, not after the cache's expiry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Subscription } from '../../src/db/database.js';
import { createTerminologyEngine, type TerminologyEngine } from '../../src/services/terminology/index.js';
import { testDrivers } from '../support/databases.js';
import { FINDINGS, findings, startTerminology, type TerminologyUnderTest } from './support.js';

describe('cached code systems follow CodeSystem writes of other processes (postgres)', { skip: !testDrivers.includes('postgres') }, () => {
  let tx: TerminologyUnderTest;
  let other: TerminologyEngine;
  let following: Subscription | undefined;
  const validate = async (code: string): Promise<boolean> => {
    const reply = await other.engine.handle({ method: 'GET', path: 'CodeSystem/$validate-code', query: [['url', FINDINGS], ['code', code]], headers: {} });
    assert.equal(reply.status, 200, JSON.stringify(reply.resource));
    return (reply.resource as { parameter: Array<{ name: string; valueBoolean?: boolean }> }).parameter.find((p) => p.name === 'result')!.valueBoolean!;
  };

  before(async () => {
    tx = await startTerminology('postgres');
    other = await createTerminologyEngine({ db: tx.database.db });
    following = await other.store.followChanges(tx.database.db);
  });
  after(async () => {
    await following?.close();
    await other?.engine.settle();
    await tx?.close();
  });

  test('a new version written by the service is what the other engine answers from next', async () => {
    assert.equal((await tx.post('CodeSystem', findings)).status, 201);
    assert.equal(await validate('tachy'), true);
    assert.equal(await validate('sinus'), false, 'version 1 has no "sinus" (and is now cached by the other engine)');
    const second = { ...findings, version: '2', concept: [...findings.concept, { code: 'sinus', display: 'Sinus rhythm' }] };
    assert.equal((await tx.post('CodeSystem', second)).status, 201);
    // The notification arrives after the commit, over another connection: wait for it briefly (well inside the 5 s expiry).
    const deadline = Date.now() + 3_000;
    let seen = false;
    while (!seen && Date.now() < deadline) {
      seen = await validate('sinus');
      if (!seen) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(seen, true, 'the other engine answered from version 2 within 3 s');
  });
});
