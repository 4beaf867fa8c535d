/** The Transactions page's filters as OpenHIM's `filters` JSON: the admin API filters and pages on the server. */

export interface Filters {
  channelID: string;
  status: string;
  clientID: string;
  /** datetime-local values (the browser's time zone). */
  from: string;
  to: string;
}

export function filtersJson(f: Filters): string | undefined {
  const out: Record<string, unknown> = {};
  if (f.channelID) out.channelID = f.channelID;
  if (f.status) out.status = f.status;
  if (f.clientID) out.clientID = f.clientID;
  const range: Record<string, string> = {};
  if (f.from) range.$gte = new Date(f.from).toISOString();
  if (f.to) range.$lte = new Date(f.to).toISOString();
  if (Object.keys(range).length) out['request.timestamp'] = range;
  return Object.keys(out).length ? JSON.stringify(out) : undefined;
}

