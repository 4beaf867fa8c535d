/**
 * A fair share of the exchange per client. Each request is bounded on its own (statement and
 * transaction budgets), but one client repeating budget-length requests would hold the embedded
 * database, and with it every other client, the admin API and the transaction log, for as long
 * as it kept sending. So the router counts, per client, the time its slow requests took (those
 * over OPENHIM_ROUTER_SLOW_REQUEST_MS) in the current minute; past OPENHIM_ROUTER_CLIENT_SLOW_BUDGET_MS
 * the client is refused with 429 until the minute is over. Fast requests never count, so a busy
 * but well-behaved client is never slowed. Per process (each router worker counts its own).
 */
import type { Limits } from '../../../common/limits.js';

const WINDOW_MS = 60_000;
/** Clients tracked at once: a caller cycling through addresses cannot grow memory past it. */
const MAX_CLIENTS = 10_000;

interface Spent { windowEnds: number; slowMs: number }

export class ClientCostQuota {
  private readonly spent = new Map<string, Spent>();

  constructor(
    private readonly limits: Pick<Limits, 'routerSlowRequestMs' | 'routerClientSlowBudgetMs'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until the client may send again; 0 when it is within its budget. */
  retryAfterMs(client: string): number {
    const spent = this.spent.get(client);
    if (!spent) return 0;
    const now = this.now();
    if (spent.windowEnds <= now) {
      this.spent.delete(client);
      return 0;
    }
    return spent.slowMs >= this.limits.routerClientSlowBudgetMs ? spent.windowEnds - now : 0;
  }

  /** A finished request of the client that took `durationMs`. */
  record(client: string, durationMs: number): void {
    if (durationMs < this.limits.routerSlowRequestMs) return;
    const now = this.now();
    let spent = this.spent.get(client);
    if (!spent || spent.windowEnds <= now) {
      if (this.spent.size >= MAX_CLIENTS) this.evictExpired(now);
      spent = { windowEnds: now + WINDOW_MS, slowMs: 0 };
      this.spent.set(client, spent);
    }
    spent.slowMs += durationMs;
  }

  private evictExpired(now: number): void {
    for (const [client, spent] of this.spent) if (spent.windowEnds <= now) this.spent.delete(client);
    if (this.spent.size >= MAX_CLIENTS) this.spent.clear(); // all current: start again rather than grow
  }
}
