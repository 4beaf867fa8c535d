/** Load, response times and status mix of the last hour, from GET /metrics and /metrics/timeseries/minute. */
import { useMemo, useState } from 'preact/hooks';
import { api, query } from '../api';
import type { Metric } from '../models';
import { TimeChart } from '../chart';
import { ErrorNote, PageTitle, useInterval, useLoad } from '../ui';

const WINDOW_MS = 60 * 60_000;
const MINUTE_MS = 60_000;
const EMPTY: Metric = { total: 0, failed: 0, successful: 0, processing: 0, completed: 0, completedWErrors: 0 };

/** One row per minute of the window (the API returns only minutes that had traffic), so the axis spans the hour. */
export function minuteBuckets(rows: Metric[], now: number): Metric[] {
  const byMinute = new Map(rows.map((r) => [Math.floor(Date.parse(r.timestamp ?? '') / MINUTE_MS), r]));
  const last = Math.floor(now / MINUTE_MS);
  const out: Metric[] = [];
  for (let minute = last - WINDOW_MS / MINUTE_MS + 1; minute <= last; minute++) {
    out.push(byMinute.get(minute) ?? { ...EMPTY, timestamp: new Date(minute * MINUTE_MS).toISOString() });
  }
  return out;
}

export function DashboardPage() {
  const [now, setNow] = useState(Date.now());
  useInterval(() => setNow(Date.now()), 10_000);
  const range = query({ startDate: new Date(now - WINDOW_MS).toISOString(), endDate: new Date(now).toISOString() });
  const totals = useLoad(() => api.get<Metric[]>(`/metrics${range}`), [range]);
  const series = useLoad(() => api.get<Metric[]>(`/metrics/timeseries/minute${range}`), [range]);
  const sum = totals.data?.[0];
  const charts = useMemo(() => {
    const rows = minuteBuckets(series.data ?? [], now);
    const times = rows.map((r) => Date.parse(r.timestamp ?? '') / 1000);
    return {
      times,
      load: [
        { label: 'Successful', colour: '#1a7f37', values: rows.map((r) => Number(r.successful) + Number(r.completed)) },
        { label: 'With errors', colour: '#9a6700', values: rows.map((r) => Number(r.completedWErrors)) },
        { label: 'Failed', colour: '#cf222e', values: rows.map((r) => Number(r.failed)) },
        { label: 'Processing', colour: '#0969da', values: rows.map((r) => Number(r.processing)) },
      ],
      response: [
        { label: 'Average', colour: '#0969da', points: true, values: rows.map((r) => (r.avgResp == null ? null : Number(r.avgResp))) },
        { label: 'Slowest', colour: '#8250df', points: true, values: rows.map((r) => (r.maxResp == null ? null : Number(r.maxResp))) },
      ],
    };
  }, [series.data, now]);
  return (
    <section aria-labelledby="dash-title">
      <div id="dash-title"><PageTitle>Dashboard</PageTitle></div>
      <p>The last hour of transactions, refreshed every 10 seconds.</p>
      <ErrorNote error={totals.error ?? series.error} />
      <dl class="tiles">
        <div><dt>Transactions</dt><dd data-metric="total">{totals.data ? Number(sum?.total ?? 0) : '…'}</dd></div>
        <div><dt>Successful</dt><dd>{Number(sum?.successful ?? 0) + Number(sum?.completed ?? 0)}</dd></div>
        <div><dt>Failed</dt><dd>{Number(sum?.failed ?? 0)}</dd></div>
        <div><dt>Average response</dt><dd>{sum?.avgResp == null ? '–' : `${Math.round(Number(sum.avgResp))} ms`}</dd></div>
      </dl>
      <div class="charts">
        <TimeChart title="Transactions per minute, by status" times={charts.times} series={charts.load} unit="tx" />
        <TimeChart title="Response time" times={charts.times} series={charts.response} unit="ms" />
      </div>
    </section>
  );
}
