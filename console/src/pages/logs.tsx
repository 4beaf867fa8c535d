/**
 * Server logs (admins): the interop layer's GET /logs (OpenHIM's console has the same page), newest
 * last as the API gives them, at a level and over a period the admin picks (the last five minutes
 * refreshed every 5 s).
 */
import { useState } from 'preact/hooks';
import { api, query } from '../api';
import { ErrorNote, PageTitle, Select, formatTime, useInterval, useLoad } from '../ui';

interface LogRecord {
  timestamp: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  meta?: Record<string, unknown>;
}

const PERIODS: Array<[string, string]> = [
  ['300000', 'Last 5 minutes'],
  ['3600000', 'Last hour'],
  ['86400000', 'Last 24 hours'],
];
const LEVELS: Array<[string, string]> = [
  ['debug', 'Debug and above'],
  ['info', 'Info and above'],
  ['warn', 'Warnings and errors'],
  ['error', 'Errors'],
];
/** The newest records shown; the API returns the oldest first, so the page asks for the newest by time. */
const SHOWN = 500;

export function LogsPage() {
  const [level, setLevel] = useState('info');
  const [period, setPeriod] = useState('300000');
  const logs = useLoad(() => api.get<LogRecord[]>(`/logs${query({ level, from: new Date(Date.now() - Number(period)).toISOString() })}`), [level, period]);
  // Only the short period follows live: longer ones may hold megabytes of records.
  useInterval(() => logs.reload(), 5_000, period === '300000');
  const records = (logs.data ?? []).slice(-SHOWN);
  return (
    <section>
      <PageTitle>Server logs</PageTitle>
      <div class="filters">
        <Select label="Level" value={level} options={LEVELS} onChange={(e) => setLevel((e.target as HTMLSelectElement).value)} />
        <Select label="Period" value={period} options={PERIODS} onChange={(e) => setPeriod((e.target as HTMLSelectElement).value)} />
      </div>
      <ErrorNote error={logs.error} />
      <p><small>The process's recent records (the embedded stack's services log in one process); the newest {SHOWN} are shown, oldest first.</small></p>
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Server log records, oldest first</caption>
          <thead><tr><th scope="col">Time</th><th scope="col">Level</th><th scope="col">Service</th><th scope="col">Message</th></tr></thead>
          <tbody>
            {records.map((r, i) => (
              <tr key={`${r.timestamp}-${i}`} data-level={r.level}>
                <td>{formatTime(r.timestamp)}</td>
                <td><span class={`badge ${r.level === 'error' ? 'bad' : r.level === 'warn' ? 'warn' : ''}`}>{r.level}</span></td>
                <td>{typeof r.meta?.service === 'string' ? r.meta.service : '–'}</td>
                <td>
                  {r.message}
                  {r.meta && Object.keys(r.meta).some((k) => k !== 'service') && (
                    <details><summary>details</summary><pre>{JSON.stringify(r.meta, null, 2)}</pre></details>
                  )}
                </td>
              </tr>
            ))}
            {!logs.loading && !records.length && <tr><td colSpan={4}>No records at this level in this period.</td></tr>}
          </tbody>
        </table>
      </div>
    </section>
  );
}
