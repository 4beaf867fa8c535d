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

  observe(channelName: string, status: string, seconds: number): void {
    this.transactions.inc({ channel: channelName, status });
    this.duration.observe({ channel: channelName }, seconds);
  }
}
