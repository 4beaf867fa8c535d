/**
 * A token bucket: `perSecond` events a second on average, bursts of up to `burst`. Whoever spends
 * past it is told no, at once, so a flood costs what refusing costs. O(1), no timers.
 */
export class RateBudget {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst = perSecond * 2,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Spends one token if there is one. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * A budget per key (a sender's address): one sender's flood spends its own budget, not the
 * others'. At most `maxKeys` are held; past it the oldest is forgotten (it starts afresh, full).
 */
export class RateBudgets {
  private readonly budgets = new Map<string, RateBudget>();

  constructor(
    private readonly perSecond: number,
    private readonly maxKeys = 4096,
  ) {}

  take(key: string): boolean {
    let budget = this.budgets.get(key);
    if (!budget) {
      if (this.budgets.size >= this.maxKeys) this.budgets.delete(this.budgets.keys().next().value!);
      budget = new RateBudget(this.perSecond);
      this.budgets.set(key, budget);
    }
    return budget.take();
  }
}

/**
 * Says something at most once per `everyMs` however often it happens, with how many times it
 * happened since it was last said: a flood must not become a flood of log lines.
 */
export class ThrottledNotice {
  private count = 0;
  private lastSaid = -Infinity;

  constructor(
    private readonly everyMs: number,
    private readonly say: (count: number) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  happened(): void {
    this.count += 1;
    const now = this.now();
    if (now - this.lastSaid < this.everyMs) return;
    this.lastSaid = now;
    const count = this.count;
    this.count = 0;
    this.say(count);
  }
}
