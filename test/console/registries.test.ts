/**
 * The registry browsers end to end (PGlite): a console beside the interop layer, the shared health
 * record and the client registry. A patient's resources and IPS summary; golden records, their
 * source records and the review queue with a decision; reads recorded in the audit log; only
 * admins, only reads and review decisions.
 * CONSOLE_SCREENSHOTS=1 writes docs/console/patient.png, client-registry.png, golden-record.png.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { clientRegistryService } from '../../src/services/client-registry/index.js';
import { consoleService } from '../../src/services/console/index.js';
import type { RunningService } from '../../src/services/service.js';
import { sharedHealthRecordService } from '../../src/services/shared-health-record/index.js';
import { CLINIC_A, CLINIC_B, NATIONAL_ID, NATIONAL_ID_OID, namingSystem, patient, requestJson } from '../client-registry/support.js';
import { startIol, type Iol } from '../interop-layer/support.js';

const SENDER_SECRET = 'test-sender-identity-secret-console-0123456789';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOT_DIR = fileURLToPath(new URL('../../../docs/console/', import.meta.url));

async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.CONSOLE_SCREENSHOTS !== '1') return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.evaluate('window.scrollTo(0, 0)'); // the page from its top, as a person arrives at it
  await page.screenshot({ path: `${SCREENSHOT_DIR}${name}.png` });
}

describe('console registry browsers', { skip: existsSync(CHROMIUM) ? false : `no chromium at ${CHROMIUM} (.ci/run installs it)` }, () => {
  let iol: Iol;
  let shr: RunningService;
  let cr: RunningService;
  let consoleRunning: RunningService;
  let url: string;
  let browser: Browser;
  let page: Page;
  let shrPatientId: string;
  before(async () => {
    iol = await startIol('pglite');
    const logger = createLogger();
    shr = await sharedHealthRecordService.start({ name: 'shared-health-record', db: iol.t.db, logger, stateDir: iol.stateDir, settings: new SettingsMap({ FHIR_DATASTORE_PORT: '0' }) });
    cr = await clientRegistryService.start({ name: 'client-registry', db: iol.t.db, logger, stateDir: iol.stateDir, settings: new SettingsMap({ CLIENT_REGISTRY_PORT: '0', CLIENT_REGISTRY_MLLP_PORT: '0', OPENHIM_SENDER_IDENTITY_SECRET: SENDER_SECRET }) });
    consoleRunning = await consoleService.start({
      name: 'console', db: iol.t.db, logger, stateDir: iol.stateDir,
      // The review queue is a data steward's: the console signs its registry calls as one (registry-proxy.ts).
      settings: new SettingsMap({ CONSOLE_PORT: '0', CONSOLE_API_URL: iol.api, CONSOLE_SHR_URL: shr.endpoints.fhir!, CONSOLE_CLIENT_REGISTRY_URL: cr.endpoints.fhir!, OPENHIM_SENDER_IDENTITY_SECRET: SENDER_SECRET }),
    });
    url = consoleRunning.endpoints.web!;
    // The shared health record: a patient with an observation and a condition.
    const created = await requestJson(`${shr.endpoints.fhir}/Patient`, 'POST', { resourceType: 'Patient', name: [{ family: 'Okafor', given: ['Amara'] }], gender: 'female', birthDate: '1984-02-29', identifier: [{ system: 'http://clinic.example.org/mrn', value: 'MRN-1' }] });
    assert.equal(created.status, 201);
    shrPatientId = created.body.id;
    const subject = { reference: `Patient/${shrPatientId}` };
    for (const resource of [
      { resourceType: 'Observation', status: 'final', code: { text: 'Body weight', coding: [{ system: 'http://loinc.org', code: '29463-7' }] }, subject, effectiveDateTime: '2026-11-30', valueQuantity: { value: 61, unit: 'kg' } },
      { resourceType: 'Condition', code: { text: 'Hypertension' }, subject, clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] } },
    ]) assert.equal((await requestJson(`${shr.endpoints.fhir}/${resource.resourceType}`, 'POST', resource)).status, 201);
    // The client registry: one person from two clinics (auto-linked), and a probable match to review.
    for (const [name, system, oid] of [['NationalId', NATIONAL_ID, NATIONAL_ID_OID], ['ClinicA', CLINIC_A], ['ClinicB', CLINIC_B]] as const) {
      assert.equal((await requestJson(`${cr.endpoints.fhir}/NamingSystem`, 'POST', namingSystem(name, system, oid))).status, 201);
    }
    for (const p of [
      patient({ ids: [[CLINIC_A, 'A-001'], [NATIONAL_ID, 'NID-42']], family: 'Moyo', given: 'Tendai', birthDate: '1990-04-12' }),
      patient({ ids: [[CLINIC_B, 'B-777'], [NATIONAL_ID, 'NID-42']], family: 'Moyo', given: 'Tendai', birthDate: '1990-04-12' }),
      patient({ ids: [[CLINIC_B, 'B-900']], family: 'Moyo', given: 'Tendayi', birthDate: '1990-04-12' }),
    ]) assert.equal((await requestJson(`${cr.endpoints.fhir}/Patient`, 'POST', p)).status, 201);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(60_000);
    page = await context.newPage();
    page.on('pageerror', (error) => assert.fail(`the page threw: ${error.message}`));
    await page.goto(url);
    await page.getByLabel('Email').fill(iol.rootEmail);
    await page.getByLabel('Password').fill(iol.rootPassword);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  });
  after(async () => {
    await browser?.close();
    await consoleRunning?.stop();
    await cr?.stop();
    await shr?.stop();
    await iol?.stop();
  });

  test('a patient of the shared health record with their resources and IPS summary', async () => {
    await page.getByRole('link', { name: 'Patients' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Okafor');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'Amara Okafor' }).click();
    await page.getByRole('heading', { name: 'Amara Okafor' }).waitFor();
    await page.getByText('Observation (1)').waitFor();
    await page.getByText('Body weight · 61 kg').waitFor();
    await page.getByText('Condition (1)').waitFor();
    await page.getByRole('button', { name: 'Make the summary ($summary)' }).click();
    await page.getByLabel('Summary sections').waitFor();
    assert.match(await page.getByLabel('Summary sections').innerText(), /entries/);
    await screenshot(page, 'patient');
  });

  test('golden records with their source records, and a review decision', async () => {
    await page.getByRole('link', { name: 'Client registry' }).click();
    await page.getByRole('heading', { name: 'Golden records' }).waitFor();
    const review = page.locator('[data-review]').first();
    await review.waitFor();
    await screenshot(page, 'client-registry');
    await review.getByRole('button', { name: /^Accept/ }).click();
    await page.getByRole('status').filter({ hasText: 'accepted' }).waitFor();
    await page.getByText('Nothing to review.').waitFor();
    await page.getByRole('link', { name: 'Tendai Moyo' }).first().click();
    await page.getByRole('heading', { name: /Golden record: Tendai Moyo/ }).waitFor();
    await page.getByText('Source records (3)').waitFor();
    // The heading counts the golden record's links; the rows come with a second request.
    await page.locator('[data-source]').nth(2).waitFor();
    assert.equal(await page.locator('[data-source]').count(), 3, 'both clinics\' records and the accepted one');
    await screenshot(page, 'golden-record');
  });

  test('registry reads are in the audit log; only admins; only reads and review decisions', async () => {
    const events = await iol.call('GET', '/audit-events?filterLimit=200');
    assert.match(JSON.stringify(events.body), /console GET shared-health-record \/Patient\/[^"]*\$everything/);
    // A non-admin user logs in and is refused the browsers.
    assert.equal((await iol.call('POST', '/users', { email: 'viewer@example.org', firstname: 'V', surname: 'W', groups: ['viewers'], password: 'viewer-password-1' })).status, 201);
    const login = await fetch(`${url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'viewer@example.org', password: 'viewer-password-1' }) });
    assert.equal(login.status, 200);
    const viewer = login.headers.getSetCookie()[0]!.split(';')[0]!;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    assert.equal((await fetch(`${url}/registry/shr/Patient`, { headers: { cookie: viewer } })).status, 403);
    assert.deepEqual(await (await fetch(`${url}/console/registries`, { headers: { cookie: viewer } })).json(), { shr: false, cr: false });
    // The admin may not write through the browsers, except review decisions (with the CSRF token).
    const admin = await fetch(`${url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: iol.rootEmail, password: iol.rootPassword }) });
    const adminCookie = admin.headers.getSetCookie()[0]!.split(';')[0]!;
    const adminToken = ((await admin.json()) as { csrfToken: string }).csrfToken;
    const write = await fetch(`${url}/registry/shr/Patient`, { method: 'POST', headers: { cookie: adminCookie, 'x-csrf-token': adminToken, 'content-type': 'application/fhir+json' }, body: '{"resourceType":"Patient"}' });
    assert.equal(write.status, 405);
    const noToken = await fetch(`${url}/registry/cr/Patient/$cr-review-reject`, { method: 'POST', headers: { cookie: adminCookie, 'content-type': 'application/fhir+json' }, body: '{"resourceType":"Parameters"}' });
    assert.equal(noToken.status, 403);
    assert.ok(csrfToken);
    assert.equal((await fetch(`${url}/registry/other/Patient`, { headers: { cookie: adminCookie } })).status, 404);
    // The review queue is a steward's: the registry's port alone refuses it; the console (an admin) is vouched for.
    assert.equal((await requestJson(`${cr.endpoints.fhir}/Patient/$cr-review`, 'GET')).status, 403);
    assert.equal((await fetch(`${url}/registry/cr/Patient/$cr-review?status=all`, { headers: { cookie: adminCookie } })).status, 200);
  });
});
