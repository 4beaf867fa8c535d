import { Counter, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of the router, on registries of this service's own: the same metrics in
 * the Prometheus text format and in OpenMetrics (chosen by the scraper's Accept header).
 */
export class RouterMetrics {
  readonly registry = new Registry();
  readonly openMetrics = new Registry();
  readonly transactions = new Counter({
    name: 'iol_transactions_total',
    help: 'Transactions finished by the router, by channel and final status',
    labelNames: ['channel', 'status'] as const,
    registers: [this.registry, this.openMetrics],
  });
  readonly duration = new Histogram({
    name: 'iol_transaction_duration_seconds',
    help: 'Time from request received to response sent, by channel',
    labelNames: ['channel'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry, this.openMetrics],
  });
  readonly authFailures = new Counter({
    name: 'iol_auth_failures_total',
    help: 'Requests refused for failed authentication, by surface (api or router)',
    labelNames: ['surface'] as const,
    registers: [this.registry, this.openMetrics],
  });

  constructor() {
    this.openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
  }

  /** Counts a request refused for failed authentication. */
  countAuthFailure(surface: 'api' | 'router', count = 1): void {
    this.authFailures.inc({ surface }, count);
  }

  /**
   * Counts a finished transaction. Never throws (metrics must not fail the log or a rerun):
   * returns the error instead, for the caller to log.
   */
  observe(channelName: string, status: string, seconds: number): Error | undefined {
    try {
      // Labels on objects without a prototype: nothing inherited can become a label.
      const labels = Object.assign(Object.create(null) as Record<string, string>, { channel: String(channelName), status: String(status) });
      this.transactions.inc(labels);
      this.duration.observe(Object.assign(Object.create(null) as Record<string, string>, { channel: String(channelName) }), Number.isFinite(seconds) ? seconds : 0);
      return undefined;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }
}
