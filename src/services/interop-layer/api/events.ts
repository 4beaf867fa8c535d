/**
 * GET /events/:receivedTime (admins), OpenHIM's visualizer feed: `{events}` since that time (ms
 * since the epoch), in time order. OpenHIM writes event rows beside each transaction
 * (middleware/events.js) and keeps them an hour; here nothing more is written on the request
 * path: the events are read from the transaction log, with OpenHIM's shapes and rules (channel,
 * primary route, secondary routes and mediators' orchestrations, each a start and an end; a 5xx
 * end is an "error"). As OpenHIM's, an event's `created` is when it would have been written (the
 * transaction's answer stored, or a secondary route's), the time a poller asks from. Bounded: at
 * most the last hour, OPENHIM_API_MAX_EVENT_TRANSACTIONS transactions (the newest) per call, and
 * OPENHIM_API_MAX_EVENTS events (the earliest written: a poller asking again from the latest
 * `created` it got gets the rest, as each transaction can make up to 4 events per route).
 */
import type { IolDeps } from '../deps.js';
import { badRequest } from '../errors.js';
import type { Channel, Transaction } from '../models.js';
import type { ScopedRoutes } from './scopes.js';

/** As OpenHIM's event TTL: older events are gone. */
const EVENT_WINDOW_MS = 60 * 60_000;

export interface VisualizerEvent {
  _id: string;
  created: string;
  channelID: string;
  transactionID: string;
  type: 'channel' | 'primary' | 'route' | 'orchestration';
  event: 'start' | 'end';
  name?: string | undefined;
  status?: number | undefined;
  statusType?: 'success' | 'error' | undefined;
  /** A string, as OpenHIM's model stores it: milliseconds since the epoch. */
  normalizedTimestamp: string;
  mediator?: string | undefined;
  autoRetryAttempt?: number | undefined;
}

type Timed = { name?: string; mediatorURN?: string; request?: { timestamp?: unknown }; response?: { timestamp?: unknown; status?: unknown } };

function millis(value: unknown): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/** The events of one transaction, as OpenHIM's createTransactionEvents makes them (without its optional normalisation). */
export function eventsOf(tx: Transaction, channel: Pick<Channel, '_id' | 'name' | 'routes'>): VisualizerEvent[] {
  const out: VisualizerEvent[] = [];
  const base = { channelID: channel._id, transactionID: tx._id, ...(tx.autoRetryAttempt !== undefined ? { autoRetryAttempt: tx.autoRetryAttempt } : {}) };
  // `created` is when OpenHIM would have written the event: once the transaction's answer (or, for
  // a secondary route's events, that route's) was stored, never before the event itself.
  let settled = 0;
  const push = (type: VisualizerEvent['type'], event: VisualizerEvent['event'], at: number, extra: Partial<VisualizerEvent>) =>
    out.push({ _id: `${tx._id}-${out.length}`, created: new Date(Math.max(at, settled)).toISOString(), ...base, type, event, normalizedTimestamp: String(at), ...extra });
  const ended = (status: unknown) => {
    const code = Number(status);
    return { status: code, statusType: code >= 500 && code <= 599 ? ('error' as const) : ('success' as const) };
  };

  const start = millis(tx.request?.timestamp);
  if (start === undefined) return out;
  const end = millis(tx.response?.timestamp);
  settled = end ?? 0;
  push('channel', 'start', start, { name: channel.name });
  const primary = channel.routes.find((r) => r.primary)?.name;
  if (end !== undefined) {
    const at = Math.max(end, start);
    push('primary', 'start', start, { name: primary });
    push('primary', 'end', at, { name: primary, ...ended(tx.response?.status) });
  }
  const parts = (type: 'route' | 'orchestration', list: readonly Timed[] | undefined) => {
    for (const part of list ?? []) {
      // An orchestration that is no object (logged from a mediator before the router left such entries out) has no times.
      if (!part || typeof part !== 'object') continue;
      const from = millis(part.request?.timestamp);
      const to = millis(part.response?.timestamp);
      if (from === undefined || to === undefined) continue;
      push(type, 'start', Math.min(from, to), { name: part.name, mediator: part.mediatorURN });
      push(type, 'end', to, { name: part.name, mediator: part.mediatorURN, ...ended(part.response?.status) });
    }
  };
  // The router's own record of the primary route's call (an orchestration named as the route, to its host and port) is no
  // mediator's orchestration: OpenHIM makes orchestration events of a mediator's alone.
  const route = channel.routes.find((r) => r.primary);
  const ownRecord = (o: Timed & { request?: { host?: unknown; port?: unknown } }) =>
    route !== undefined && Boolean(o) && o.name === route.name && o.request?.host === route.host && Number(o.request?.port) === Number(route.port);
  parts('orchestration', (tx.orchestrations as Timed[] | undefined)?.filter((o) => !ownRecord(o)));
  for (const route of tx.routes ?? []) {
    settled = millis((route as Timed).response?.timestamp) ?? settled;
    parts('route', [route as Timed]);
    parts('orchestration', route.orchestrations as Timed[] | undefined);
  }
  settled = end ?? 0;
  if (end !== undefined) push('channel', 'end', Math.max(end, start), { name: channel.name, ...ended(tx.response?.status) });
  return out;
}

export function eventRoutes(deps: IolDeps): ScopedRoutes {
  return {
    admin(app) {
      app.get<{ Params: { receivedTime: string } }>('/events/:receivedTime', async (request) => {
        const raw = request.params.receivedTime;
        if (!/^\d{1,15}$/.test(raw)) throw badRequest(`receivedTime must be milliseconds since 1970 (a whole number), not "${raw.slice(0, 40)}"`);
        const now = Date.now();
        const since = Math.max(Number(raw), now - EVENT_WINDOW_MS);
        const events = await deps.transactions.eventSources(new Date(since).toISOString(), new Date(now - EVENT_WINDOW_MS).toISOString(), deps.config.limits.apiMaxEventTransactions);
        const channels = new Map((await deps.channels.list(true)).map((c) => [c._id, c]));
        const all: VisualizerEvent[] = [];
        for (const tx of events) {
          const channel = channels.get(tx.channelID ?? '');
          // As OpenHIM, whose events are written when the transaction's answer is stored: a poller
          // gets a finished transaction's events when it finished after the time it asks from,
          // whatever their own timestamps (a request that began before the last poll included).
          if (!channel || millis(tx.response?.timestamp) === undefined) continue;
          for (const event of eventsOf(tx, channel)) if (Date.parse(event.created) >= since) all.push(event);
        }
        // The earliest written within the cap (asking again from the last one's `created` gets the
        // rest), answered in time order as OpenHIM sorts them (normalizedTimestamp).
        all.sort((a, b) => Date.parse(a.created) - Date.parse(b.created) || Number(a.normalizedTimestamp) - Number(b.normalizedTimestamp));
        const kept = all.slice(0, deps.config.limits.apiMaxEvents);
        return { events: kept.sort((a, b) => Number(a.normalizedTimestamp) - Number(b.normalizedTimestamp)) };
      });
    },
  };
}
