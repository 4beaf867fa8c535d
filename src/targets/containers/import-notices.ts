/**
 * The import job tells the user what it kept of an operator's changes in its log (a JSON line per
 * notice, under NOTICE_FIELD); `instant init` reads them back from the job's log once it is done
 * and prints them, as the embedded target prints its importers' notices.
 */

export const NOTICE_FIELD = 'importNotice';

/** The notices in a job's log as the engine prints it (each line may carry the engine's prefix). */
export function importNotices(log: string): string[] {
  const notices: string[] = [];
  for (const line of log.split('\n')) {
    const start = line.indexOf('{');
    if (start < 0 || !line.includes(NOTICE_FIELD)) continue;
    try {
      const entry = JSON.parse(line.slice(start)) as Record<string, unknown>;
      const notice = entry[NOTICE_FIELD];
      if (typeof notice === 'string' && !notices.includes(notice)) notices.push(notice);
    } catch {
      // not one of the job's JSON lines
    }
  }
  return notices;
}
