/**
 * End to end in Debian's chromium: an admin creates a user without a password; the user opens the
 * e-mailed link (delivered to a real SMTP server) in the console, sets a password and logs in;
 * later they forget it, ask for a link from the login page and set a new one. A used link says it
 * cannot be used. The console's set-password routes refuse other origins.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { consoleService } from '../../src/services/console/index.js';
import type { RunningService } from '../../src/services/service.js';
import { freePort } from '../support/cli.js';
import { startSmtp } from '../support/smtp.js';
import { eventually, startIol, type Iol } from '../interop-layer/support.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('console: set a password from an e-mailed link', { skip: existsSync(CHROMIUM) ? false : `no chromium at ${CHROMIUM} (.ci/run installs it)` }, () => {
  let browser: Browser;
  let page: Page;
  let iol: Iol;
  let consoleRunning: RunningService;
  let consoleUrl: string;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  const linkTo = (email: string, count: number) =>
    eventually(async () => {
      const mails = smtp.mails.filter((m) => m.to.includes(email));
      return mails.length >= count && new RegExp(`${consoleUrl.replace(/[.:/]/g, '\\$&')}/#!/set-password/[0-9a-f]{32}`).exec(mails[count - 1]!.text)?.[0];
    }, `link ${count} to ${email}`);

  before(async () => {
    smtp = await startSmtp();
    const port = await freePort();
    consoleUrl = `http://127.0.0.1:${port}`;
    iol = await startIol('pglite', { OPENHIM_SMTP_URL: smtp.url, OPENHIM_CONSOLE_URL: consoleUrl });
    consoleRunning = await consoleService.start({ name: 'console', db: iol.t.db, settings: new SettingsMap({ CONSOLE_PORT: String(port), CONSOLE_API_URL: iol.api }), logger: createLogger(), stateDir: iol.stateDir });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext();
    context.setDefaultTimeout(30_000);
    page = await context.newPage();
    page.on('pageerror', (error) => assert.fail(`the page threw: ${error.message}`));
  });
  after(async () => {
    await browser?.close();
    await consoleRunning?.stop();
    await iol?.stop();
    await smtp?.close();
  });

  const logIn = async (email: string, password: string) => {
    await page.goto(consoleUrl);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
  };

  test('a new user sets their password and names from the mailed link, then logs in; the link works once', async () => {
    assert.equal((await iol.call('POST', '/users', { email: 'nurse@example.org', firstname: 'Nuru', surname: 'Se', groups: ['viewers'] })).status, 201);
    const link = await linkTo('nurse@example.org', 1);
    await page.goto(link);
    await page.getByRole('heading', { name: 'Set your password' }).waitFor();
    await page.getByText('For nurse@example.org').waitFor();
    assert.equal(await page.getByLabel('First name').inputValue(), 'Nuru');
    await page.getByLabel('Surname').fill('Sebastian');
    await page.getByLabel('New password').fill('nurse-password-1');
    await page.getByLabel('The same password again').fill('nurse-password-2');
    await page.getByRole('button', { name: 'Set the password' }).click();
    await page.getByText('the two passwords differ').waitFor();
    await page.getByLabel('The same password again').fill('nurse-password-1');
    await page.getByRole('button', { name: 'Set the password' }).click();
    await page.getByText('Your password is set.').waitFor();
    assert.equal((await iol.call('GET', '/users/nurse@example.org')).body.surname, 'Sebastian');
    await logIn('nurse@example.org', 'nurse-password-1');
    await page.goto('about:blank');
    await page.goto(link);
    await page.getByText(/This link cannot be used/).waitFor();
  });

  test('a forgotten password: a link asked for from the login page, a new password set with it', async () => {
    await page.goto(consoleUrl);
    await page.getByRole('button', { name: 'Forgot your password?' }).click();
    await page.getByLabel('Your e-mail address').fill('nurse@example.org');
    await page.getByRole('button', { name: 'Send me a link' }).click();
    await page.getByText(/If this address is a user's, a link to set a new password has been sent/).waitFor();
    const link = await linkTo('nurse@example.org', 2);
    await page.goto(link);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    assert.equal(await page.getByLabel('First name').count(), 0, 'a reset changes the password only');
    await page.getByLabel('New password').fill('nurse-password-new');
    await page.getByLabel('The same password again').fill('nurse-password-new');
    await page.getByRole('button', { name: 'Set the password' }).click();
    await page.getByText('Your password is set.').waitFor();
    await logIn('nurse@example.org', 'nurse-password-new');
  });

  test('the console\'s set-password routes refuse another origin and malformed tokens', async () => {
    const put = await fetch(`${consoleUrl}/console/set-password/${'a'.repeat(32)}`, { method: 'PUT', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body: JSON.stringify({ password: 'attacker-pass-1' }) });
    assert.equal(put.status, 403);
    const reset = await fetch(`${consoleUrl}/console/password-reset`, { method: 'POST', headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }, body: JSON.stringify({ email: 'nurse@example.org' }) });
    assert.equal(reset.status, 403);
    assert.equal((await fetch(`${consoleUrl}/console/set-password/..%2F..%2Fusers`)).status, 404);
    assert.equal((await fetch(`${consoleUrl}/console/set-password/${'0'.repeat(32)}`)).status, 404);
  });
});
