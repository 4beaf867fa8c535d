/** Validation at the edge: zod shapes, then the rules OpenHIM enforces on channels and config. */
import type { z } from 'zod';
import { badRequest } from './errors.js';
import { channelSchema, HTTP_METHODS, type Channel, type ConfigDef } from './models.js';
import { newObjectId } from './ids.js';
import { checkContentMatch } from './content-match.js';
import { boundedRegExp, PatternRefused } from '../../common/bounded-regexp.js';
import { parsePollingSchedule } from './polling/schedule.js';

export function parseBody<S extends z.ZodTypeAny>(schema: S, body: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || what}: ${i.message}`).join('; ');
    throw badRequest(`invalid ${what}: ${issues}`);
  }
  return result.data;
}

const PATH_TRANSFORM = /^s\/((?:\\.|[^/\\])*)\/((?:\\.|[^/\\])*)\/?(g?)$/;

/** Compiled transforms by their text: the router applies a route's on every request. */
const compiledTransforms = new Map<string, (path: string) => string>();
const MAX_COMPILED_TRANSFORMS = 1000;

/** Rewrite rules one channel may have: each is tried on every link of an answer. */
const MAX_REWRITE_RULES = 100;

/** `s/from/to/g` → a function applying it to a path, as OpenHIM's pathTransform does. */
export function compilePathTransform(transform: string): (path: string) => string {
  let compiled = compiledTransforms.get(transform);
  if (!compiled) {
    compiled = compileTransform(transform);
    if (compiledTransforms.size >= MAX_COMPILED_TRANSFORMS) compiledTransforms.clear();
    compiledTransforms.set(transform, compiled);
  }
  return compiled;
}

/**
 * The transform the other way (OpenHIM's invertPathTransform): `s/from/to/` becomes `s/to/from/`,
 * for links an upstream gives under the path the router rewrote to. Undefined when `to` is no
 * pattern the router will run.
 */
export function invertPathTransform(transform: string): ((path: string) => string) | undefined {
  const m = PATH_TRANSFORM.exec(transform);
  if (!m) return undefined;
  try {
    return compilePathTransform(`s/${m[2]}/${m[1]}/${m[3] ?? ''}`);
  } catch {
    return undefined;
  }
}

function compileTransform(transform: string): (path: string) => string {
  const m = PATH_TRANSFORM.exec(transform);
  if (!m) throw badRequest(`pathTransform "${transform}" is not of the form s/from/to or s/from/to/g`);
  const regex = checkedRegExp(m[1]!, 'pathTransform', m[3] ?? '');
  const to = m[2]!.replace(/\\\//g, '/');
  return (path) => path.replace(regex, to);
}

/** A pattern as the router will run it (common/bounded-regexp.ts), or a 400 saying why not. */
function checkedRegExp(value: string, field: string, flags = ''): RegExp {
  try {
    return boundedRegExp(value, flags);
  } catch (error) {
    if (error instanceof PatternRefused) throw badRequest(`${field} "${value.slice(0, 100)}${value.length > 100 ? '...' : ''}" ${error.message}`);
    throw error;
  }
}

function checkRegex(value: string | undefined, field: string): void {
  if (value !== undefined) checkedRegExp(value, field);
}

/** A channel from a request body (a full document, or existing + changes on PUT). */
export function validateChannel(body: unknown, existing?: Channel): Channel {
  const changes = (body && typeof body === 'object' ? body : {}) as Partial<Channel>;
  const merged = (existing ? { ...existing, ...changes } : body) as Record<string, unknown>;
  // As OpenHIM (channelsAPITests "will clear a timeout", "remove the maxBodyAgeDays value"): a
  // field sent as null in an update is cleared (then its default, if it has one, applies).
  if (existing) for (const [key, value] of Object.entries(changes)) if (value === null) delete merged[key];
  // As OpenHIM: a type changed away from http without methods given drops the old methods.
  if (existing && changes.type !== undefined && changes.type !== 'http' && changes.methods === undefined) (merged as Partial<Channel>).methods = [];
  refuseKafkaRoutes(merged);
  refuseAsOpenhim(merged);
  const { methods, ...rest } = parseBody(channelSchema, merged, 'channel');
  // An empty list matches no method (OpenHIM); an http channel that names none takes every method
  // (OpenHIM's console always sends the list; a mediator's default channel often has none).
  const parsed = { ...rest, methods: methods ?? (rest.type === 'http' ? [...HTTP_METHODS] : []) };
  checkRegex(parsed.urlPattern, 'urlPattern');
  checkRegex(parsed.matchContentRegex, 'matchContentRegex');
  checkContentMatch(parsed);
  if (parsed.methods.length > 0 && parsed.type !== 'http') throw badRequest(METHODS_NOT_HTTP);
  // As OpenHIM (api/channels.js): on create, and on update when routes are given, exactly one
  // enabled primary route, whatever the channel's type.
  if (!existing || changes.routes !== undefined) {
    const primaries = parsed.routes.filter((r) => r.status === 'enabled' && r.primary).length;
    if (primaries === 0) throw badRequest('Channel must have a primary route');
    if (primaries > 1) throw badRequest('Channel cannot have a multiple primary routes');
  }
  checkMaxBodyAge(parsed);
  // A polling channel runs on its schedule: one the scheduler cannot read would never run.
  if (parsed.type === 'polling') {
    const schedule = parsePollingSchedule(parsed.pollingSchedule);
    if (schedule instanceof Error) throw badRequest(`polling channel "${parsed.name}": ${schedule.message}`);
  }
  const names = new Set<string>();
  for (const route of parsed.routes) {
    if (names.has(route.name)) throw badRequest(`channel "${parsed.name}" has two routes named "${route.name}"`);
    names.add(route.name);
    if (route.path && route.pathTransform) throw badRequest(`route "${route.name}" sets both path and pathTransform; use one`);
    if (route.pathTransform) compilePathTransform(route.pathTransform);
    if (route.statusCodesCheck && !/^[1-5][0-9*]{2}(,[1-5][0-9*]{2})*$/.test(route.statusCodesCheck)) {
      throw badRequest(`route "${route.name}": statusCodesCheck "${route.statusCodesCheck}" must look like 2** or 200,201`);
    }
    route._id ??= newObjectId();
  }
  if (parsed.rewriteUrlsConfig.length > MAX_REWRITE_RULES) throw badRequest(`channel "${parsed.name}" has ${parsed.rewriteUrlsConfig.length} rewriteUrlsConfig rules; at most ${MAX_REWRITE_RULES}`);
  for (const rule of parsed.rewriteUrlsConfig) if (rule.pathTransform) compilePathTransform(rule.pathTransform);
  return { ...parsed, _id: existing?._id ?? parsed._id ?? newObjectId() };
}

const METHODS_NOT_HTTP = "Channel method can't be defined if channel type is not http";

/**
 * OpenHIM's own checks of a channel, in its order and words (src/api/channels.js addChannel and
 * updateChannel: the body is its message alone), made on the document as sent, before the schema
 * reads it, so a client gets OpenHIM's text for what OpenHIM refuses.
 */
function refuseAsOpenhim(channel: Record<string, unknown> | null): void {
  // Not an object (JSON null on POST): parseBody below refuses it with its message.
  if (!channel || typeof channel !== 'object') return;
  const routes = Array.isArray(channel.routes) ? (channel.routes as unknown[]) : [];
  for (const route of routes) {
    if (!route || typeof route !== 'object') continue;
    const { path, pathTransform } = route as { path?: unknown; pathTransform?: unknown };
    if ((path && pathTransform) || (pathTransform && !/s\/.*\/.*/.test(String(pathTransform)))) {
      throw badRequest('Channel cannot have both path and pathTransform. pathTransform must be of the form s/from/to[/g]');
    }
  }
  const priority = channel.priority;
  if (priority !== undefined && priority !== null && Number(priority) < 1) throw badRequest('Channel priority cannot be below 1 (= Highest priority)');
  const methods = Array.isArray(channel.methods) ? (channel.methods as unknown[]) : [];
  if (methods.length > 0) {
    if (!/http/i.test(typeof channel.type === 'string' && channel.type ? channel.type : 'http')) throw badRequest(METHODS_NOT_HTTP);
    const seen = new Map<string, number>();
    for (const method of methods) seen.set(String(method), (seen.get(String(method)) ?? 0) + 1);
    const repeats = [...seen].filter(([, count]) => count > 1).map(([method]) => method).sort();
    if (repeats.length > 0) throw badRequest(`Channel methods can't be repeated. Repeated methods are ${repeats.join(', ')}`);
  }
  // As mongoose casts it first: a number sent as text counts as the number.
  const timeout = typeof channel.timeout === 'string' && channel.timeout.trim() !== '' ? Number(channel.timeout) : channel.timeout;
  if (timeout !== undefined && timeout !== null && !(typeof timeout === 'number' && timeout > 0 && timeout <= 3_600_000)) {
    throw badRequest('Channel property timeoutSeconds has to be a number greater than 1 and less than an 3600');
  }
}

/**
 * OpenHIM 8 models routes of type kafka (kafkaClientId, kafkaTopic; no host or port) and sends
 * them through its Kafka producer. This router has none: such a route is refused, by name.
 */
function refuseKafkaRoutes(channel: unknown): void {
  const routes = (channel as { routes?: unknown } | null)?.routes;
  if (!Array.isArray(routes)) return;
  for (const route of routes) {
    if (route && typeof route === 'object' && (route as { type?: unknown }).type === 'kafka') {
      const name = String((route as { name?: unknown }).name ?? '?').slice(0, 100);
      throw badRequest(`route "${name}" has type "kafka": Kafka routes are not supported by this interoperability layer (route types: http, tcp, mllp)`, 'send to Kafka through an http route (a Kafka REST proxy or a mediator)');
    }
  }
}

/** OpenHIM's rule (api/channels.js isMaxBodyDaysValid): bodies to clear, 1 to 36,499 days. */
function checkMaxBodyAge(channel: Channel | Omit<Channel, '_id'>): void {
  if (channel.maxBodyAgeDays === undefined) return;
  if (!channel.requestBody && !channel.responseBody) {
    throw badRequest("Channel property maxBodyAgeDays has to be a number that's valid and requestBody or responseBody must be true.", 'maxBodyAgeDays clears stored bodies: store the request or response body, or leave maxBodyAgeDays out');
  }
}

export const PASSWORD_MASK = '**********';

/** Checks mediator config values against its configDefs (types, options, templates). */
export function validateConfig(defs: readonly ConfigDef[], config: Record<string, unknown>, where = 'config'): void {
  const byParam = new Map(defs.map((d) => [d.param, d]));
  for (const [key, value] of Object.entries(config)) {
    const def = byParam.get(key);
    if (!def) throw badRequest(`${where}.${key} is not a parameter this mediator defines`);
    if (value === null || value === undefined) continue;
    if (def.array) {
      if (!Array.isArray(value)) throw badRequest(`${where}.${key} must be an array`);
      value.forEach((v, i) => checkValue(def, v, `${where}.${key}[${i}]`));
    } else checkValue(def, value, `${where}.${key}`);
  }
}

function checkValue(def: ConfigDef, value: unknown, where: string): void {
  switch (def.type) {
    case 'string':
    case 'bigstring':
    case 'password':
      if (typeof value !== 'string') throw badRequest(`${where} must be a string`);
      return;
    case 'bool':
      if (typeof value !== 'boolean') throw badRequest(`${where} must be true or false`);
      return;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw badRequest(`${where} must be a number`);
      return;
    case 'option':
      if (typeof value !== 'string' || !(def.values ?? []).includes(value)) {
        throw badRequest(`${where} must be one of ${(def.values ?? []).join(', ')}`);
      }
      return;
    case 'map':
      if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(`${where} must be an object of strings`);
      for (const [k, v] of Object.entries(value as object)) if (typeof v !== 'string') throw badRequest(`${where}.${k} must be a string`);
      return;
    case 'struct':
      if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(`${where} must be an object`);
      validateConfig(def.template ?? [], value as Record<string, unknown>, where);
      return;
  }
}

/** Replaces password values by a mask (for GET); `unmask` restores them on PUT. */
export function maskConfig(defs: readonly ConfigDef[], config: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!config) return config;
  const out: Record<string, unknown> = { ...config };
  for (const def of defs) {
    if (!(def.param in out) || out[def.param] === undefined || out[def.param] === null) continue;
    if (def.type === 'password') out[def.param] = def.array ? (out[def.param] as unknown[]).map(() => PASSWORD_MASK) : PASSWORD_MASK;
    else if (def.type === 'struct' && def.template && typeof out[def.param] === 'object') {
      out[def.param] = def.array
        ? (out[def.param] as Array<Record<string, unknown>>).map((v) => maskConfig(def.template!, v))
        : maskConfig(def.template, out[def.param] as Record<string, unknown>);
    }
  }
  return out;
}

/**
 * A config sent back with the masks GET shows: each masked password is the stored one again, also
 * in a struct and in a list (OpenHIM's restoreMaskedPasswords, src/api/mediators.js 34-59, restores
 * lists of passwords by position and recurses into structs; lists of structs, which we mask too,
 * are restored by position as well). A mask with nothing stored at its place stays unset.
 */
export function unmaskConfig(defs: readonly ConfigDef[], incoming: Record<string, unknown>, stored: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { ...incoming };
  for (const def of defs) {
    if (!Object.hasOwn(out, def.param)) continue;
    const given = out[def.param];
    const kept = stored && Object.hasOwn(stored, def.param) ? stored[def.param] : undefined;
    if (given === undefined || given === null) continue;
    if (def.array) {
      if (Array.isArray(given)) out[def.param] = given.map((value, i) => unmaskValue(def, value, Array.isArray(kept) ? kept[i] : undefined));
    } else out[def.param] = unmaskValue(def, given, kept);
  }
  return out;
}

function unmaskValue(def: ConfigDef, value: unknown, stored: unknown): unknown {
  if (def.type === 'password') return value === PASSWORD_MASK ? stored : value;
  if (def.type === 'struct' && def.template && isConfigObject(value)) return unmaskConfig(def.template, value, isConfigObject(stored) ? stored : undefined);
  return value;
}

function isConfigObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * What OpenHIM's validateConfigDef (src/api/mediators.js 129-172) refuses in a registration's
 * configDefs, with its messages: a struct without a template, a struct inside a template, an option
 * without a list of values. An option inside a template needs its values too (OpenHIM checks only
 * the top level, and then fails with a 500 on a value for it).
 */
export function validateConfigDefs(defs: readonly ConfigDef[]): void {
  for (const def of defs) {
    // The JSON parser refuses a body with this key, so no config could ever set the param.
    if (def.param === '__proto__') throw badRequest(`Config param '${def.param}' is a reserved name that no config can carry: rename it`);
    if (def.type === 'struct') {
      if (!def.template) throw badRequest(`Must specify a template for struct param '${def.param}'`);
      for (const item of def.template) {
        if (item.type === 'struct') throw badRequest(`May not recursively specify 'struct' in template definitions (param '${def.param}')`);
      }
      validateConfigDefs(def.template);
    } else if (def.type === 'option') {
      if (!Array.isArray(def.values)) throw badRequest(`Expected field 'values' to be an array (option param '${def.param}')`);
      if (def.values.length === 0) throw badRequest(`Must specify a values array for option param '${def.param}'`);
    }
  }
}

