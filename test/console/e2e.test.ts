/**
 * End to end: Debian's chromium, driven by playwright-core, uses the console as a person would.
 * Log in, create a client, replace the server certificate and trust a client certificate, create a
 * channel (after seeing the API's validation error), send a request
 * through the router, find it in the transaction list, open it, rerun it and see the rerun (and
 * its task), edit a mediator's config, and see the request's path in the architecture view (the
 * deployed packages framing their services, the traffic landing on them); on
 * read the server logs; on a tablet-sized window the navigation folds and every control has a label.
 * Runs on PGlite and, when a server is available, on PostgreSQL.
 * CONSOLE_SCREENSHOTS=1 writes the screenshots docs/console.md shows into docs/console/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import selfsigned from 'selfsigned';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { testDrivers } from '../support/databases.js';
import { basic } from '../interop-layer/support.js';
import { MEDIATOR_URN, startConsoleStack, type ConsoleStack } from './support.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// The flags Chromium needs on a machine without a network or a GPU (and as root).
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOT_DIR = fileURLToPath(new URL('../../../docs/console/', import.meta.url));
const TIMEOUT = 60_000;

let browser: Browser | undefined;
before(async () => {
  if (!existsSync(CHROMIUM)) return;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});
after(async () => {
  await browser?.close();
});

async function screenshot(page: Page, name: string, take: boolean, part?: Locator): Promise<void> {
  if (!take || process.env.CONSOLE_SCREENSHOTS !== '1') return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  if (part) return void (await part.screenshot({ path: `${SCREENSHOT_DIR}${name}.png` }));
  await page.evaluate('window.scrollTo(0, 0)'); // the page from its top, as a person arrives at it
  await page.screenshot({ path: `${SCREENSHOT_DIR}${name}.png` });
}

for (const driver of testDrivers) {
  describe(`console end to end (${driver})`, { skip: existsSync(CHROMIUM) ? false : `no chromium at ${CHROMIUM} (.ci/run installs it)` }, () => {
    let stack: ConsoleStack;
    let page: Page;
    const cspViolations: string[] = [];
    const shots = driver === 'pglite';
    before(async () => {
      stack = await startConsoleStack(driver, { withComposition: true });
      const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
      context.setDefaultTimeout(TIMEOUT);
      page = await context.newPage();
      page.on('pageerror', (error) => assert.fail(`the page threw: ${error.message}`));
      // The strict CSP must not be what keeps anything from working: Chromium reports each refusal here.
      page.on('console', (message) => {
        if (/Content[- ]Security[- ]Policy/i.test(message.text())) cspViolations.push(message.text());
      });
    });
    after(async () => {
      await page?.context().close();
      await stack?.stop();
    });

    test('log in', async () => {
      await page.goto(stack.url);
      await page.getByLabel('Email').fill(stack.iol.rootEmail);
      await page.getByLabel('Password').fill('not the password');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('alert').waitFor();
      await page.getByLabel('Password').fill(stack.iol.rootPassword);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      assert.equal(await page.getByRole('navigation', { name: 'Main' }).isVisible(), true);
    });

    test('before any traffic the architecture view shows the deployed packages and services, greyed', async () => {
      await page.getByRole('link', { name: 'Architecture' }).click();
      await page.locator('[data-node="mediator:urn:mediator:console-e2e"][data-idle="1"]').waitFor({ state: 'attached' });
      // Each deployed package frames its services: the router is the interop layer's, the mediator
      // stand-in is its package's service, the shared health record sits at its deployed address.
      const frame = (id: string) => page.locator(`svg g.package[data-package="${id}"]`);
      for (const [id, name] of [['interoperability-layer', 'Interoperability Layer'], ['fhir-datastore', 'FHIR Datastore'], ['e2e-mediator', 'E2E mediator package'], ['console', 'Web console']]) {
        assert.equal(await frame(id!).locator('text').textContent(), name, `the diagram names package ${id}`);
      }
      assert.equal(await page.locator('[data-node="router"]').getAttribute('data-package'), 'interoperability-layer');
      assert.equal(await page.locator('[data-node="mediator:urn:mediator:console-e2e"]').getAttribute('data-package'), 'e2e-mediator');
      const shr = page.locator('[data-service="shared-health-record"]');
      assert.equal(await shr.getAttribute('data-package'), 'fhir-datastore');
      assert.equal(await shr.getAttribute('data-node'), 'service:127.0.0.1:3447');
      assert.match(await shr.textContent() ?? '', /Shared health record/);
      assert.equal(await page.locator('[data-service="console"]').getAttribute('data-package'), 'console');
      // And as text, for those who do not see the diagram.
      assert.match(await page.locator('.deployed-packages li[data-package="fhir-datastore"]').innerText(), /FHIR Datastore fhir-datastore 0\.1\.0: shared-health-record/);
    });

    test('edit a user: the API\'s validation error (a too-short password) shows, then names and groups save', async () => {
      assert.equal((await stack.iol.call('POST', '/users', { email: 'e2e-user@example.org', firstname: 'Old', surname: 'Name', groups: ['users'], password: 'a-long-password-1' })).status, 201);
      await page.getByRole('link', { name: 'Users' }).click();
      await page.getByRole('button', { name: 'Edit e2e-user@example.org' }).click();
      await page.getByLabel('First name').first().fill('New');
      await page.getByLabel('Groups').first().fill('users, viewers');
      await page.getByLabel('New password').fill('short');
      await page.getByRole('button', { name: 'Save user' }).click();
      await page.getByRole('alert').waitFor();
      await page.getByLabel('New password').fill('');
      await page.getByRole('button', { name: 'Save user' }).click();
      await page.getByRole('status').filter({ hasText: 'User e2e-user@example.org saved' }).waitFor();
      const stored = await stack.iol.call('GET', '/users/e2e-user@example.org');
      assert.deepEqual([stored.body.firstname, stored.body.groups], ['New', ['users', 'viewers']]);
    });

    test('create a client', async () => {
      await page.getByRole('link', { name: 'Clients' }).click();
      await page.getByRole('link', { name: 'Add a client' }).click();
      await page.getByLabel('Client ID').fill('e2e-clinic');
      await page.getByLabel('Name', { exact: true }).fill('E2E clinic');
      await page.getByLabel('Roles').fill('e2e-role');
      await page.getByLabel('Password').fill('e2e-clinic-secret');
      await screenshot(page, 'client-edit', shots);
      await page.getByRole('button', { name: 'Create client' }).click();
      await page.getByRole('cell', { name: 'e2e-clinic' }).waitFor();
    });

    test('certificates: the server certificate and its key, replaced (a bad PEM refused), and a trusted certificate added and removed', async () => {
      await page.getByRole('link', { name: 'Certificates' }).click();
      await page.getByRole('heading', { name: 'Certificates', exact: true }).waitFor();
      const before = (await stack.iol.call('GET', '/keystore/cert')).body.fingerprint as string;
      assert.equal(await page.getByTestId('server-fingerprint').innerText(), before);
      await page.getByTestId('key-match').getByText('matches the certificate').waitFor();
      // Not a certificate: the API's 400 shows, nothing changes.
      await page.getByLabel('Server certificate (PEM)').fill('hello');
      await page.getByRole('button', { name: 'Replace certificate' }).click();
      assert.match(await page.getByRole('alert').first().innerText(), /PEM certificate/);
      const pair = await selfsigned.generate([{ name: 'commonName', value: 'router.e2e.example.org' }, { name: 'organizationName', value: 'E2E' }], { keyType: 'ec', algorithm: 'sha256' });
      const fingerprint = new X509Certificate(pair.cert).fingerprint;
      await page.getByLabel('Server certificate (PEM)').fill(pair.cert);
      await page.getByRole('button', { name: 'Replace certificate' }).click();
      await page.getByRole('status').filter({ hasText: 'Server certificate replaced' }).waitFor();
      await page.getByTestId('key-match').getByText('does not match the certificate').waitFor();
      await page.getByLabel('Private key (PEM)').fill(pair.private);
      await page.getByRole('button', { name: 'Replace key' }).click();
      await page.getByRole('status').filter({ hasText: 'Private key replaced' }).waitFor();
      await page.getByTestId('key-match').getByText('matches the certificate').waitFor();
      await page.getByTestId('server-fingerprint').getByText(fingerprint).waitFor();
      assert.deepEqual((await stack.iol.call('GET', '/keystore/validity')).body, { valid: true });
      // The key is write-only: gone from the form, nowhere in the page.
      assert.equal(await page.getByLabel('Private key (PEM)').inputValue(), '');
      assert.equal((await page.content()).includes(pair.private.split('\n')[1]!), false);
      const client = await selfsigned.generate([{ name: 'commonName', value: 'e2e-lab-system' }], { keyType: 'ec', algorithm: 'sha256' });
      const clientFingerprint = new X509Certificate(client.cert).fingerprint;
      await page.getByLabel('Trusted certificates (PEM)').fill(client.cert);
      await page.getByRole('button', { name: 'Add trusted certificate' }).click();
      await page.locator(`[data-trusted="${clientFingerprint}"]`).waitFor();
      // The whole page: the server certificate, the forms and the trusted list.
      await page.setViewportSize({ width: 1280, height: 1500 });
      await screenshot(page, 'certificates', shots);
      await page.setViewportSize({ width: 1280, height: 800 });
      // A certificate client is picked from the trusted list, as in OpenHIM's console.
      await page.getByRole('link', { name: 'Clients' }).click();
      await page.getByRole('link', { name: 'Add a client' }).click();
      await page.getByLabel('Client ID').fill('e2e-lab');
      await page.getByLabel('Name', { exact: true }).fill('E2E lab');
      await page.getByLabel('Roles').fill('e2e-lab-role');
      await page.getByLabel('Type').selectOption('certificate');
      await page.getByLabel('Trusted certificate').selectOption(clientFingerprint);
      assert.equal(await page.getByLabel('Certificate fingerprint (SHA-1)').inputValue(), clientFingerprint);
      await page.getByRole('button', { name: 'Create client' }).click();
      await page.getByRole('cell', { name: 'e2e-lab', exact: true }).waitFor();
      const lab = ((await stack.iol.call('GET', '/clients')).body as Array<{ clientID: string; certFingerprint?: string }>).find((c) => c.clientID === 'e2e-lab');
      assert.equal(lab?.certFingerprint, clientFingerprint);
      await page.getByRole('link', { name: 'Certificates' }).click();
      page.once('dialog', (dialog) => void dialog.accept());
      await page.getByRole('button', { name: 'Remove e2e-lab-system' }).click();
      await page.locator(`[data-trusted="${clientFingerprint}"]`).waitFor({ state: 'detached' });
      assert.deepEqual((await stack.iol.call('GET', '/keystore/ca')).body, []);
    });

    test('certificates: a client certificate made in the console is trusted, its key shown once', async () => {
      await page.getByRole('heading', { name: 'Make a certificate' }).waitFor();
      await page.getByLabel('Common name').fill('e2e-made-client');
      await page.getByLabel('Organization', { exact: true }).fill('E2E');
      await page.getByLabel('Country').fill('za');
      await page.getByRole('button', { name: 'Make certificate' }).click();
      const made = page.getByTestId('generated-certificate');
      await made.waitFor();
      const pem = await page.getByLabel('New certificate (PEM)').inputValue();
      const key = await page.getByLabel('New private key (PEM)').inputValue();
      const certificate = new X509Certificate(pem);
      assert.ok(certificate.checkPrivateKey(createPrivateKey(key)), 'the key shown is the certificate\'s');
      await page.locator(`[data-trusted="${certificate.fingerprint}"]`).waitFor();
      const trusted = (await stack.iol.call('GET', '/keystore/ca')).body as Array<{ _id: string; commonName: string; organization: string; country: string }>;
      assert.deepEqual(trusted.map((c) => [c.commonName, c.organization, c.country]), [['e2e-made-client', 'E2E', 'za']]);
      await screenshot(page, 'certificate-made', shots, page.getByRole('form', { name: 'Make a certificate' }));
      await page.getByRole('button', { name: 'Done: forget the key' }).click();
      await made.waitFor({ state: 'detached' });
      assert.equal((await page.content()).includes(key.split('\n')[1]!), false, 'the key is gone from the page');
      assert.equal((await stack.iol.call('DELETE', `/keystore/ca/${trusted[0]!._id}`)).status, 200);
    });

    test('create a channel: the API\'s validation error shows, then it saves', async () => {
      await page.getByRole('link', { name: 'Channels' }).click();
      await page.getByRole('link', { name: 'Add a channel' }).click();
      await page.getByLabel('Name', { exact: true }).fill('E2E channel');
      await page.getByLabel('URL pattern').fill('^/e2e/(');
      await page.getByLabel('Allowed clients and roles').fill('e2e-role');
      await page.getByLabel('Route name').fill('E2E mediator');
      await page.getByLabel('Host').fill('127.0.0.1');
      await page.getByLabel('Port').fill(String(stack.mediatorPort));
      await page.getByLabel('Test a path against this pattern').fill('/e2e/hello');
      assert.match(await page.getByTestId('pattern-test').innerText(), /not a valid regular expression/);
      await page.getByRole('button', { name: 'Create channel' }).click();
      const error = await page.getByRole('alert').innerText();
      assert.match(error, /urlPattern|regular expression/i);
      await page.getByLabel('URL pattern').fill('^/e2e/.*$');
      assert.match(await page.getByTestId('pattern-test').innerText(), /matches this path/);
      await screenshot(page, 'channel-edit', shots);
      await page.getByRole('button', { name: 'Create channel' }).click();
      await page.getByRole('heading', { name: 'Channel E2E channel' }).waitFor();
      await page.getByRole('link', { name: 'All channels' }).click();
      await page.getByRole('heading', { name: 'Channels', exact: true }).waitFor();
      await page.getByLabel('Path', { exact: true }).fill('/e2e/hello');
      await page.getByTestId('url-match').getByRole('link', { name: 'E2E channel' }).waitFor();
      await screenshot(page, 'channels', shots);
    });

    let txId = '';
    test('a request through the router shows in the transaction list and opens with its bodies', async () => {
      const res = await fetch(`${stack.iol.router}/e2e/hello?x=1`, { headers: { authorization: basic('e2e-clinic', 'e2e-clinic-secret') } });
      assert.equal(res.status, 200);
      await res.text();
      await page.getByRole('link', { name: 'Transactions' }).click();
      await page.getByLabel('Live tail (every 2 s)').check();
      const row = page.locator('tr', { hasText: '/e2e/hello' }).first();
      await row.waitFor();
      txId = (await row.getAttribute('data-tx'))!;
      await page.getByLabel('Channel').selectOption({ label: 'E2E channel' });
      await page.getByLabel('Status').selectOption('Successful');
      await row.waitFor();
      await screenshot(page, 'transactions', shots);
      await row.getByRole('link').first().click();
      await page.getByRole('heading', { name: 'Transaction' }).waitFor();
      const response = await page.getByLabel('Response body', { exact: true }).innerText();
      assert.match(response, /\n {2}"resourceType": "Bundle"/, 'the body is pretty-printed');
      await page.getByText('Orchestration 1: Shared health record').click();
      await screenshot(page, 'transaction', shots);
    });

    test('rerun it and see the rerun and its task; rerun two at once as one task', async () => {
      await page.getByRole('button', { name: 'Rerun', exact: true }).click();
      await page.getByRole('status').filter({ hasText: 'Rerun queued' }).waitFor();
      const rerun = page.locator('[data-rerun]').first();
      await rerun.waitFor();
      const childId = await rerun.getAttribute('data-rerun');
      assert.ok(childId && childId !== txId);
      await rerun.click();
      await page.getByText('Rerun of').waitFor();
      await page.getByRole('link', { name: 'Tasks', exact: true }).click();
      await page.locator(`[data-task] [data-rerun="${childId}"]`).waitFor();
      // Many at once: the original and its rerun, selected in the list, rerun as one task.
      await page.getByRole('link', { name: 'Transactions' }).click();
      for (const id of [txId, childId]) await page.locator(`tr[data-tx="${id}"] input[type=checkbox]`).check();
      await page.getByRole('button', { name: 'Rerun selected (2)' }).click();
      const queued = await page.getByRole('status').filter({ hasText: 'queued for 2 transaction(s)' }).innerText();
      const taskId = /task (\w+)/.exec(queued)![1]!;
      await page.getByRole('link', { name: 'Tasks', exact: true }).click();
      const task = page.locator(`[data-task="${taskId}"]`);
      await task.getByText('2 of 2').waitFor();
      // The row loads its task's transactions on its own (GET /tasks/:id), after the list.
      await task.locator('[data-rerun]').nth(1).waitFor();
      assert.equal(await task.locator('[data-rerun]').count(), 2, 'both reruns are linked from the task');
      await screenshot(page, 'tasks', shots);
    });

    test('edit a mediator\'s config', async () => {
      await page.getByRole('link', { name: 'Mediators' }).click();
      await page.getByRole('link', { name: 'E2E mediator' }).click();
      await page.getByLabel('Upstream URL').fill('http://127.0.0.1:3447/fhir/R4');
      await page.getByLabel('Retries').fill('3');
      await page.getByLabel('Mode').selectOption('lenient');
      await page.getByLabel('Verbose logging').check();
      await screenshot(page, 'mediator', shots);
      await page.getByRole('button', { name: 'Save configuration' }).click();
      await page.getByRole('status').filter({ hasText: 'Configuration saved' }).waitFor();
      const stored = await stack.iol.call('GET', `/mediators/${MEDIATOR_URN}`);
      assert.deepEqual(stored.body.config, { upstreamUrl: 'http://127.0.0.1:3447/fhir/R4', retries: 3, mode: 'lenient', verbose: true });
    });

    test('the architecture view shows the request\'s path', async () => {
      await page.getByRole('link', { name: 'Architecture' }).click();
      const flow = page.locator(`[data-flow="${txId}"]`);
      await flow.waitFor();
      assert.match(await flow.innerText(), /e2e-clinic → Interop layer \(router\) → E2E mediator → Shared health record/);
      const clients = await stack.iol.call('GET', '/clients');
      const clientId = clients.body.find((c: { clientID: string }) => c.clientID === 'e2e-clinic')._id;
      const edge = page.locator(`[data-edge="client:${clientId}>router"]`);
      assert.equal(await edge.getAttribute('data-status'), 'Successful');
      // (a level edge has no height, which playwright calls hidden: attached is what counts)
      await page.locator('[data-edge="router>mediator:urn:mediator:console-e2e"]').waitFor({ state: 'attached' });
      assert.equal(await page.locator('[data-node="mediator:urn:mediator:console-e2e"]').getAttribute('data-idle'), null, 'traffic makes it active');
      // The orchestration lands on the deployed shared health record, in its package.
      await page.locator('[data-edge="mediator:urn:mediator:console-e2e>service:127.0.0.1:3447"]').waitFor({ state: 'attached' });
      assert.equal(await page.locator('[data-node="service:127.0.0.1:3447"]').getAttribute('data-idle'), null);
      assert.equal(await page.locator('[data-node="service:127.0.0.1:3447"]').getAttribute('data-package'), 'fhir-datastore');
      // A new request is drawn as it arrives, without reloading the page.
      const failing = await fetch(`${stack.iol.router}/e2e/again`, { headers: { authorization: basic('e2e-clinic', 'e2e-clinic-secret') } });
      await failing.text();
      await page.locator('[data-flow]', { hasText: '/e2e/again' }).waitFor();
      await screenshot(page, 'architecture', shots);
      // Click-through by keyboard: an arrow is a link to its latest transaction.
      await edge.focus();
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Transaction' }).waitFor();
    });

    test('the dashboard charts the traffic', async () => {
      await page.getByRole('link', { name: 'Dashboard' }).click();
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      // The request, its rerun and the second request (the tile shows … until the metrics arrive).
      await page.waitForFunction(() => Number((globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }).document.querySelector('[data-metric="total"]')?.textContent) >= 3);
      await page.locator('.uplot').first().waitFor();
      await screenshot(page, 'dashboard', shots);
    });

    test('server logs: the records of the interop layer, at the level picked', async () => {
      await page.getByRole('link', { name: 'Server logs' }).click();
      await page.getByRole('heading', { name: 'Server logs' }).waitFor();
      await page.getByRole('cell', { name: 'interop layer listening' }).waitFor();
      // Nothing at error level was logged by this run: the list says so.
      await page.getByLabel('Level').selectOption('error');
      await page.getByText('No records at this level in this period.').waitFor();
      await page.getByLabel('Level').selectOption('info');
      await page.getByRole('cell', { name: 'interop layer listening' }).waitFor();
    });

    test('on a tablet the navigation folds behind Menu, and every control has a label', async () => {
      await page.setViewportSize({ width: 820, height: 1180 });
      assert.equal(await page.getByRole('navigation', { name: 'Main' }).isVisible(), false);
      await page.getByRole('button', { name: 'Menu' }).click();
      await page.getByRole('link', { name: 'Roles' }).click();
      await page.getByRole('heading', { name: 'Roles' }).waitFor();
      await page.getByRole('checkbox', { name: 'e2e-role may use E2E channel' }).waitFor();
      assert.equal(await page.getByRole('checkbox', { name: 'e2e-role may use E2E channel' }).isChecked(), true);
      await screenshot(page, 'roles-tablet', shots);
      for (const path of ['#/transactions', '#/channels/new', '#/clients/new', '#/users', '#/roles', '#/certificates', '#/logs']) {
        await page.goto(`${stack.url}/${path}`);
        await page.locator('main h1').waitFor();
        const unlabelled = await page.$$eval('input, select, textarea', (elements) =>
          elements
            .filter((el) => (el as unknown as { labels?: { length: number } }).labels?.length === 0 && !el.getAttribute('aria-label'))
            .map((el) => el.outerHTML.slice(0, 80)));
        assert.deepEqual(unlabelled, [], `every control on ${path} has a label`);
      }
      await page.setViewportSize({ width: 1280, height: 800 });
    });

    test('log out', async () => {
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByRole('button', { name: 'Log in' }).waitFor();
      const status = await page.evaluate(async () => (await fetch('/api/channels')).status);
      assert.equal(status, 401);
      assert.deepEqual(cspViolations, [], 'no Content-Security-Policy refusal on any page');
    });
  });
}
