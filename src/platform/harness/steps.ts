/**
 * Generic HTTP steps for package features. Every quoted string and doc string may use ${NAME}
 * placeholders: the stack's settings and secrets, endpoint URLs (e.g. ${INTEROP_LAYER_ROUTER_URL},
 * ${BASE_URL}) and values remembered by earlier steps.
 */
import assert from 'node:assert/strict';
import { Before, Given, Then, When, World, setDefaultTimeout, setWorldConstructor, type IWorldOptions } from '@cucumber/cucumber';

setDefaultTimeout(60_000);

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

interface HarnessParameters {
  vars: Record<string, string>;
  /** Testing a remote stack: a scenario needing a ${NAME} nobody gave (an endpoint URL) is skipped, not failed. */
  skipUnset?: boolean;
}

export class HarnessWorld extends World<HarnessParameters> {
  readonly vars: Record<string, string>;
  authorization: string | undefined;
  headers: Record<string, string> = {};
  response: { status: number; headers: Headers; text: string; json: unknown } | undefined;

  constructor(options: IWorldOptions<HarnessParameters>) {
    super(options);
    this.vars = { ...options.parameters.vars };
  }

  fill(text: string): string {
    return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const value = this.vars[name];
      if (value === undefined) throw new Error(`\${${name}} is not set (known: ${Object.keys(this.vars).sort().join(', ')})`);
      return value;
    });
  }

  async send(method: string, url: string, body?: string, contentType = 'application/json'): Promise<void> {
    const headers: Record<string, string> = { ...this.headers };
    if (this.authorization) headers.authorization = this.authorization;
    if (body !== undefined) headers['content-type'] ??= contentType;
    const response = await fetch(this.fill(url), { method, headers, ...(body !== undefined ? { body: this.fill(body) } : {}) });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    this.response = { status: response.status, headers: response.headers, text, json };
  }

  /** Reads a dotted path such as `entry.0.resource.id` or `total` from the last JSON response. */
  at(path: string): unknown {
    assert.ok(this.response, 'no request was sent yet');
    let node: unknown = this.response.json;
    for (const part of path.split('.').filter(Boolean)) {
      if (node === null || node === undefined) return undefined;
      node = (node as Record<string, unknown>)[part];
    }
    return node;
  }
}

setWorldConstructor(HarnessWorld);

// A remote stack does not tell its endpoints: scenarios that need one not given are skipped.
Before(function (this: HarnessWorld, { pickle }) {
  if (!this.parameters.skipUnset) return undefined;
  const texts = pickle.steps.flatMap((step) => [step.text, step.argument?.docString?.content ?? '']);
  const remembered = new Set(texts.flatMap((text) => [...text.matchAll(/ as "([A-Za-z_][A-Za-z0-9_]*)"$/g)].map((m) => m[1]!)));
  const unset = [...new Set(texts.flatMap((text) => [...text.matchAll(PLACEHOLDER)].map((m) => m[1]!)))].filter((name) => this.vars[name] === undefined && !remembered.has(name));
  if (!unset.length) return undefined;
  this.log(`skipped: needs ${unset.map((n) => `\${${n}}`).join(', ')} (give with -e NAME=value)`);
  return 'skipped';
});

Given('the stack is running', async function (this: HarnessWorld) {
  const bases = Object.entries(this.vars).filter(([name]) => name.endsWith('_URL') && name !== 'BASE_URL');
  assert.ok(bases.length > 0, 'no endpoints known: is the stack running?');
});

Given('I use basic auth as {string} with password {string}', function (this: HarnessWorld, user: string, password: string) {
  this.authorization = `Basic ${Buffer.from(`${this.fill(user)}:${this.fill(password)}`).toString('base64')}`;
});

Given('I use no authentication', function (this: HarnessWorld) {
  this.authorization = undefined;
});

Given('the request header {string} is {string}', function (this: HarnessWorld, name: string, value: string) {
  this.headers[name.toLowerCase()] = this.fill(value);
});

When('I send a {word} request to {string}', async function (this: HarnessWorld, method: string, url: string) {
  await this.send(method, url);
});

When('I send a {word} request to {string} with the body:', async function (this: HarnessWorld, method: string, url: string, body: string) {
  await this.send(method, url, body);
});

When('I send a {word} request to {string} with the FHIR resource:', async function (this: HarnessWorld, method: string, url: string, body: string) {
  await this.send(method, url, body, 'application/fhir+json');
});

Then('the response status is {int}', function (this: HarnessWorld, status: number) {
  assert.ok(this.response, 'no request was sent yet');
  assert.equal(this.response.status, status, `expected HTTP ${status}, got ${this.response.status}: ${this.response.text.slice(0, 500)}`);
});

Then('the response header {string} matches {string}', function (this: HarnessWorld, name: string, pattern: string) {
  assert.ok(this.response, 'no request was sent yet');
  assert.match(this.response.headers.get(name) ?? '', new RegExp(this.fill(pattern)));
});

/** The answer that failed an assertion, shown with it: a failing feature says what the service said. */
function answered(world: HarnessWorld): string {
  const response = world.response!;
  const text = response.text.length > 800 ? `${response.text.slice(0, 800)}... (${response.text.length} characters)` : response.text;
  return `\n  the response was HTTP ${response.status}: ${text}`;
}

Then('the response JSON at {string} is {string}', function (this: HarnessWorld, path: string, expected: string) {
  const value = this.at(path);
  assert.equal(String(value), this.fill(expected), `expected ${path} to be "${this.fill(expected)}", got ${JSON.stringify(value)}${answered(this)}`);
});

Then('the response JSON at {string} matches {string}', function (this: HarnessWorld, path: string, pattern: string) {
  const value = this.at(path);
  assert.match(String(value), new RegExp(this.fill(pattern)), `expected ${path} to match /${this.fill(pattern)}/, got ${JSON.stringify(value)}${answered(this)}`);
});

Then('the response JSON at {string} is at least {int}', function (this: HarnessWorld, path: string, minimum: number) {
  const value = Number(this.at(path));
  assert.ok(value >= minimum, `expected ${path} ≥ ${minimum}, got ${String(this.at(path))}${answered(this)}`);
});

Then('the response body contains {string}', function (this: HarnessWorld, text: string) {
  assert.ok(this.response, 'no request was sent yet');
  assert.ok(this.response.text.includes(this.fill(text)), `response does not contain "${this.fill(text)}"${answered(this)}`);
});

Then('I remember the response JSON at {string} as {string}', function (this: HarnessWorld, path: string, name: string) {
  const value = this.at(path);
  assert.notEqual(value, undefined, `nothing at ${path}${answered(this)}`);
  this.vars[name] = String(value);
});
