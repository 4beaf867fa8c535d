/**
 * Channel alerts, as OpenHIM v8.5's src/alerts.js: every OPENHIM_ALERTS_POLL_MS each enabled
 * channel's `alerts` are checked against the transactions that ended since the last run:
 * - `condition: 'status'` (the default): transactions answered with `status` ('500', or a class
 *   '4xx'); with `failureRate` (a percentage) only when that share of the last hour's transactions
 *   matched, and at most once an hour;
 * - `condition: 'auto-retry-max-attempted'`: failed transactions on their last automatic retry.
 * Each recipient (the alert's `users`, and the users of its contact `groups`) gets an e-mail
 * listing them (console links), unless its `maxAlerts` ('1 per hour', '1 per day') was reached;
 * then the next alert lists everything since. Each alert sent or failed is recorded a day
 * (iol.alerts_sent), as OpenHIM's Alert collection. An `sms` recipient gets OpenHIM's short text at
 * the user's `msisdn` through the SMS gateway (OPENHIM_SMS_URL, common/sms-gateway.ts); without a
 * gateway or a number the alert is recorded as failed and logged.
 * The last run's time is stored (iol.alert_state), so a restart neither repeats nor loses alerts;
 * across replicas one runs it (a lease). One channel's failure never stops the others.
 */
import type { IolDeps } from './deps.js';
import type { Channel } from './models.js';

interface Alert {
  condition?: 'status' | 'auto-retry-max-attempted';
  status?: string;
  failureRate?: number;
  groups?: string[];
  users?: Recipient[];
}

interface Recipient {
  user: string;
  method: 'email' | 'sms';
  maxAlerts?: 'no max' | '1 per hour' | '1 per day';
}

/**
 * How far behind the clock a run looks: a transaction is in the log a little after it ends (the
 * log is written behind the answer, here and on other replicas), so a run covers what ended up
 * to this long ago and the next run takes it from there: nothing falls between two runs.
 */
const SETTLE_MS = 1000;

/** Transactions an alert lists at most (the mail says how many more). */
const LISTED = 100;
const HOUR_MS = 60 * 60_000;

/** The SQL condition on response_status for an alert's status ('500', '4xx'), or undefined when it is neither. */
function statusCondition(status: string | undefined): { sql: string; params: number[] } | undefined {
  const text = String(status ?? '').trim();
  const range = /^([1-5])xx$/i.exec(text);
  if (range) return { sql: 'response_status >= $S1 AND response_status < $S2', params: [Number(range[1]) * 100, Number(range[1]) * 100 + 100] };
  if (/^[1-5]\d\d$/.test(text)) return { sql: 'response_status = $S1', params: [Number(text)] };
  return undefined;
}

const storedStatus = (alert: Alert) => (alert.condition === 'auto-retry-max-attempted' ? '500' : String(alert.status ?? ''));

/**
 * How long one run may send for: a mail server that takes each connection and never answers costs
 * up to 30 s a mail (nodemailer's connection and greeting bounds); the rest waits for the next run.
 */
const RUN_BUDGET_MS = 60_000;

export class AlertRunner {
  private readonly warned = new Set<string>();
  private stopping = false;
  private deadline = 0;

  constructor(private readonly deps: IolDeps) {}

  /** No more mail from a run under way (the service is stopping). */
  stop(): void {
    this.stopping = true;
  }

  /** One run: what ended since the last run (stored), up to `clock` less SETTLE_MS. */
  async runOnce(clock = new Date()): Promise<void> {
    if (this.stopping) return;
    this.deadline = Date.now() + RUN_BUDGET_MS;
    const now = new Date(clock.getTime() - SETTLE_MS);
    const { db } = this.deps;
    const last = (await db.query<{ last_run: Date | string }>(`SELECT last_run FROM iol.alert_state WHERE name = 'alerts'`)).rows[0]?.last_run;
    // The first run starts now, as OpenHIM's: past transactions raise no alert.
    const from = last ? new Date(last) : now;
    await this.deps.transactions.flush();
    const channels = (await this.deps.channels.list()).filter((c) => c.status !== 'disabled' && Array.isArray(c.alerts) && c.alerts.length > 0);
    for (const channel of channels) {
      for (const alert of channel.alerts as Alert[]) {
        try {
          await this.check(channel, alert, from, now);
        } catch (error) {
          this.deps.logger.warn({ channel: channel.name, err: { message: (error as Error).message } }, 'alert check failed');
        }
      }
    }
    await db.query(
      `INSERT INTO iol.alert_state (name, last_run) VALUES ('alerts', $1) ON CONFLICT (name) DO UPDATE SET last_run = EXCLUDED.last_run`,
      [now.toISOString()],
    );
    await db.query(`DELETE FROM iol.alerts_sent WHERE sent_at < now() - interval '1 day'`);
  }

  /** Ids of the channel's transactions that ended in (from, to] and match the alert. */
  private async matching(channel: Channel, alert: Alert, from: Date, to: Date): Promise<string[] | undefined> {
    let condition: string;
    let params: unknown[];
    if (alert.condition === 'auto-retry-max-attempted') {
      condition = `(response_status >= 500 OR status = 'Failed') AND (doc->>'autoRetryAttempt') = $S1`;
      params = [String(channel.autoRetryMaxAttempts ?? 0)];
    } else {
      const status = statusCondition(alert.status);
      if (!status) {
        this.warnOnce(`${channel._id}:${alert.status}`, { channel: channel.name, status: alert.status }, 'alert status is neither a status code nor a class such as 4xx: skipped');
        return undefined;
      }
      condition = status.sql;
      params = status.params;
    }
    const sql = `SELECT id FROM iol.transactions
                  WHERE channel_id = $1 AND request_ts > $2::timestamptz - ${this.longest(channel)} * interval '1 millisecond' AND response_ms IS NOT NULL
                    AND request_ts + response_ms * interval '1 millisecond' > $2::timestamptz
                    AND request_ts + response_ms * interval '1 millisecond' <= $3::timestamptz
                    AND ${condition.replace(/\$S(\d)/g, (_, n: string) => `$${3 + Number(n)}`)}
                  ORDER BY request_ts LIMIT 10000`;
    return (await this.deps.db.query<{ id: string }>(sql, [channel._id, from.toISOString(), to.toISOString(), ...params])).rows.map((r) => r.id);
  }

  private async endedCount(channel: Channel, from: Date, to: Date): Promise<number> {
    const r = await this.deps.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM iol.transactions
        WHERE channel_id = $1 AND request_ts > $2::timestamptz - ${this.longest(channel)} * interval '1 millisecond' AND response_ms IS NOT NULL
          AND request_ts + response_ms * interval '1 millisecond' > $2::timestamptz AND request_ts + response_ms * interval '1 millisecond' <= $3::timestamptz`,
      [channel._id, from.toISOString(), to.toISOString()],
    );
    return Number(r.rows[0]?.n ?? 0);
  }

  private async sentSince(channel: Channel, alert: Alert, since: Date, user?: string): Promise<boolean> {
    const r = await this.deps.db.query(
      `SELECT 1 FROM iol.alerts_sent WHERE channel_id = $1 AND condition = $2 AND status = $3 AND alert_status = 'Completed' AND sent_at >= $4 ${user ? 'AND user_email = $5' : ''} LIMIT 1`,
      [channel._id, alert.condition ?? 'status', storedStatus(alert), since.toISOString(), ...(user ? [user] : [])],
    );
    return r.rows.length > 0;
  }

  private async check(channel: Channel, alert: Alert, from: Date, now: Date): Promise<void> {
    let transactions: string[] | undefined;
    if (alert.failureRate !== undefined && alert.failureRate !== null && alert.condition !== 'auto-retry-max-attempted') {
      if (!Number.isFinite(Number(alert.failureRate))) return;
      // The last hour's share, and one alert an hour at most.
      const hourAgo = new Date(now.getTime() - HOUR_MS);
      const failing = await this.matching(channel, alert, hourAgo, now);
      if (!failing?.length) return;
      const total = await this.endedCount(channel, hourAgo, now);
      if ((failing.length / Math.max(total, 1)) * 100 < Number(alert.failureRate)) return;
      if (await this.sentSince(channel, alert, hourAgo)) return;
      transactions = failing;
    } else {
      transactions = await this.matching(channel, alert, from, now);
    }
    if (!transactions?.length) return;
    for (const recipient of await this.recipients(alert)) {
      // One recipient's failure (a stored alert from before the checks at save) is theirs alone.
      if (this.stopping) return;
      if (Date.now() > this.deadline) {
        this.warnOnce(`budget:${this.deadline}`, { channel: channel.name }, `alert run over its ${RUN_BUDGET_MS / 1000} s budget (the mail server is slow): the rest of this run's alerts are not sent`);
        return;
      }
      try {
        await this.send(channel, alert, recipient, transactions, now);
      } catch (error) {
        this.deps.logger.warn({ channel: channel.name, user: String(recipient.user).slice(0, 100), err: { message: (error as Error).message } }, 'alert not sent');
      }
    }
  }

  private async recipients(alert: Alert): Promise<Recipient[]> {
    const list: Recipient[] = [...(Array.isArray(alert.users) ? alert.users : [])];
    for (const groupId of Array.isArray(alert.groups) ? alert.groups : []) {
      const group = await this.deps.contactGroups.find(String(groupId));
      if (group) list.push(...(group.users as Recipient[]));
    }
    return list.filter((r) => r && typeof r.user === 'string');
  }

  private async send(channel: Channel, alert: Alert, recipient: Recipient, transactions: string[], now: Date): Promise<void> {
    const limit = recipient.maxAlerts === '1 per hour' || recipient.maxAlerts === '1 per day' ? recipient.maxAlerts : 'no max';
    let listed = transactions;
    if (limit !== 'no max') {
      const since = limit === '1 per hour' ? new Date(now.getTime() - HOUR_MS) : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
      if (await this.sentSince(channel, alert, since, recipient.user)) return;
      // What the user has not been told of: everything since then (OpenHIM's getTransactionsForAlert).
      listed = (await this.matching(channel, alert, since, now)) ?? transactions;
    }
    let outcome: 'Completed' | 'Failed' = 'Completed';
    try {
      const user = await this.deps.users.byEmail(recipient.user);
      if (!user) throw new Error(`unknown user ${recipient.user}`);
      if (recipient.method === 'sms') {
        // OpenHIM's words when the user has no number.
        if (!user.doc.msisdn) throw new Error(`Cannot send alert: MSISDN not specified for user '${recipient.user}'`);
        await this.deps.sms.send(user.doc.msisdn, this.smsText(channel, alert, listed));
      } else if (recipient.method === 'email') {
        await this.deps.mailer.send({ to: user.doc.email, subject: 'OpenHIM Alert', ...this.message(channel, alert, listed) });
      } else {
        throw new Error(`Unknown method '${String(recipient.method).slice(0, 40)}' specified for user '${recipient.user}'`);
      }
    } catch (error) {
      outcome = 'Failed';
      this.deps.logger.warn({ channel: channel.name, user: recipient.user, method: recipient.method }, `alert not sent: ${(error as Error).message}`);
    }
    await this.deps.db.query(
      `INSERT INTO iol.alerts_sent (user_email, method, channel_id, condition, status, alert_status, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [recipient.user, String(recipient.method ?? 'unknown'), channel._id, alert.condition ?? 'status', storedStatus(alert), outcome, now.toISOString()],
    );
  }

  /** OpenHIM's SMS templates (statusTemplate.sms, maxRetriesTemplate.sms). */
  private smsText(channel: Channel, alert: Alert, transactions: string[]): string {
    const { instanceName } = this.deps.config.mail;
    const count = transactions.length > 1 ? `${transactions.length} transactions have` : transactions.length === 1 ? '1 transaction has' : 'no transactions have';
    if (alert.condition === 'auto-retry-max-attempted') {
      return `Alert - ${count} been retried ${channel.autoRetryMaxAttempts ?? 0} times but are still failing on the OpenHIM on ${instanceName} (${channel.name})`;
    }
    return `Alert - ${count} completed with status ${alert.status} on the OpenHIM running on ${instanceName} (${channel.name})`;
  }

  /** OpenHIM's alert templates (statusTemplate, maxRetriesTemplate): plain text and HTML. */
  private message(channel: Channel, alert: Alert, transactions: string[]): { text: string; html: string } {
    const { consoleUrl, instanceName } = this.deps.config.mail;
    const urls = transactions.slice(0, LISTED).map((id) => `${consoleUrl}/#!/transactions/${id}`);
    const more = transactions.length > LISTED ? `and ${transactions.length - LISTED} more` : '';
    const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const retried = alert.condition === 'auto-retry-max-attempted';
    const heading = retried ? `OpenHIM Transactions Alert - ${instanceName}` : 'OpenHIM Transactions Alert';
    const lead = retried
      ? `The following transaction(s) have been retried ${channel.autoRetryMaxAttempts ?? 0} times, but are still failing:`
      : `The following transaction(s) have completed with status ${alert.status} on the OpenHIM instance running on ${instanceName}:`;
    const tail = retried ? 'Please note that they will not be retried any further by the OpenHIM automatically.' : '';
    return {
      text: [heading, '', lead, '', `Channel - ${channel.name}`, ...urls, more, tail].filter((line, i) => line !== '' || i < 4).join('\n'),
      html: `<html><head></head><body><h1>${escape(heading)}</h1><div><p>${escape(lead)}</p><table><tr><td>Channel - <b>${escape(channel.name)}</b></td></tr>${urls
        .map((url) => `<tr><td><a href='${escape(url)}'>${escape(url)}</a></td></tr>`)
        .join('')}${more ? `<tr><td>${escape(more)}</td></tr>` : ''}</table>${tail ? `<p>${escape(tail)}</p>` : ''}</div></body></html>`,
    };
  }

  /**
   * The longest a transaction of the channel can take (its timeout, or the router's, plus a
   * minute): only those begun that long before a window can have ended in it, so a busy channel's
   * check reads minutes of its log, not a day.
   */
  private longest(channel: Channel): number {
    const timeout = Number(channel.timeout) > 0 ? Number(channel.timeout) : this.deps.config.defaultTimeoutMs;
    return Math.floor(Math.min(timeout, 24 * HOUR_MS) + 60_000);
  }

  private warnOnce(key: string, fields: Record<string, unknown>, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.deps.logger.warn(fields, message);
  }
}
