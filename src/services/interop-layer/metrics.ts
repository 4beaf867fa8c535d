import { Counter, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of the router, on a registry of this service's own. */
export class RouterMetrics {
  readonly registry = new Registry();
  readonly transactions = new Counter({
    name: 'iol_transactions_total',
    help: 'Transactions finished by the router, by channel and final status',
    labelNames: ['channel', 'status'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'iol_transaction_duration_seconds',
    help: 'Time from request received to response sent, by channel',
    labelNames: ['channel'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'iol_auth_failures_total',
    help: 'Requests refused for failed authentication, by surface (api or router)',
    labelNames: ['surface'] as const,
    registers: [this.registry],
  });

  observe(channelName: string, status: string, seconds: number): void {
    this.transactions.inc({ channel: channelName, status });
    this.duration.observe({ channel: channelName }, seconds);
  }
}
