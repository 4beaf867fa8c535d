/**
 * OpenHIM parity: contact groups, written from OpenHIM v8.5's
 * test/integration/contactGroupsAPITests.js and src/api/metadata.js: a group a channel's alert
 * names is not removed (409 with the channels), and a metadata import keeps a new group's `_id`,
 * as OpenHIM's import keeps a document's, so the alerts imported beside it still name it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { startIol, type Iol } from './support.js';

for (const driver of testDrivers) {
  describe(`OpenHIM's contact groups on ${driver}`, () => {
    let iol: Iol;
    const route = { name: 'test route', host: 'localhost', port: 9876, primary: true };
    const users = [
      { user: 'user1@example.org', method: 'sms', maxAlerts: 'no max' },
      { user: 'user2@example.org', method: 'email', maxAlerts: '1 per hour' },
    ];

    before(async () => {
      iol = await startIol(driver);
    });
    after(async () => {
      await iol?.stop();
    });

    test('removeContactGroup: a group a channel\'s alert names stays (409 with the channels); then it goes', async () => {
      const group = await iol.call('POST', '/groups', { group: 'Group 2', users });
      assert.equal(group.status, 201, JSON.stringify(group.body));
      const channel = await iol.call('POST', '/channels', { name: 'TestChannel1XXX', urlPattern: 'test/sample', allow: ['PoC'], routes: [route], alerts: [{ status: '300', failureRate: 13, users: [], groups: [group.body._id] }] });
      assert.equal(channel.status, 201, JSON.stringify(channel.body));
      const refused = await iol.call('DELETE', `/groups/${group.body._id}`);
      assert.equal(refused.status, 409);
      assert.deepEqual(refused.body.map((c: { name: string }) => c.name), ['TestChannel1XXX']);
      assert.equal((await iol.call('PUT', `/channels/${channel.body._id}`, { alerts: [] })).status, 200);
      assert.equal((await iol.call('DELETE', `/groups/${group.body._id}`)).status, 200);
      assert.equal((await iol.call('GET', `/groups/${group.body._id}`)).status, 404);
    });

    test('a metadata import keeps a new group\'s _id, which the alerts imported with it name', async () => {
      const groupId = '5e5f5b0d5b1b2c0012345679';
      const res = await iol.call('POST', '/metadata', {
        ContactGroups: [{ _id: groupId, group: 'exported', users, __v: 0 }],
        Channels: [{ name: 'exported channel', urlPattern: '^/exported$', routes: [route], alerts: [{ condition: 'status', status: '500', groups: [groupId], users: [] }] }],
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.deepEqual(res.body.map((r: { status: string }) => r.status), ['Inserted', 'Inserted']);
      const group = await iol.call('GET', `/groups/${groupId}`);
      assert.equal(group.status, 200, 'the group keeps its id');
      assert.equal(group.body.group, 'exported');
      assert.equal((await iol.call('DELETE', `/groups/${groupId}`)).status, 409, 'the imported alert names it');
      // A second import of the same group updates it in place; an id taken by another group is not reused.
      const again = await iol.call('POST', '/metadata', { ContactGroups: [{ _id: groupId, group: 'exported', users: users.slice(0, 1) }, { _id: groupId, group: 'another', users: [] }] });
      assert.deepEqual(again.body.map((r: { status: string }) => r.status), ['Updated', 'Inserted']);
      assert.equal((await iol.call('GET', `/groups/${groupId}`)).body.users.length, 1);
      const another = (await iol.call('GET', '/groups')).body.find((g: { group: string }) => g.group === 'another');
      assert.notEqual(another._id, groupId);
    });
  });
}
