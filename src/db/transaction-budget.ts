/**
 * The time budget of a whole transaction (INSTANT_DB_TRANSACTION_TIMEOUT_MS). The statement budget
 * bounds one statement, but a transaction of a thousand quick statements (a transaction bundle)
 * still holds its connection, and on PGlite the only connection, for minutes. Both drivers give a
 * request's transaction a deadline: past it, the transaction is rolled back as a whole and the
 * caller gets this error. Its code is 57014 (query_canceled), so everything that handles a
 * cancelled statement (FHIR's "too-costly", bundle budgets) handles it too.
 */
import { STATEMENT_TIMEOUT_CODE } from './database.js';

export const TRANSACTION_TIMEOUT_SETTING = 'INSTANT_DB_TRANSACTION_TIMEOUT_MS';

export interface TransactionTimeoutError extends Error {
  code: string;
  /** Tells it from a statement cut at INSTANT_DB_STATEMENT_TIMEOUT_MS. */
  budget: 'transaction';
}

export function transactionTimeoutError(budgetMs: number): TransactionTimeoutError {
  const message = `the transaction ran longer than ${budgetMs} ms (${TRANSACTION_TIMEOUT_SETTING}) and was rolled back as a whole; ` +
    'make it smaller (fewer entries in a transaction bundle)';
  return Object.assign(new Error(message), { code: STATEMENT_TIMEOUT_CODE, budget: 'transaction' as const });
}

export function isTransactionTimeout(error: unknown): error is TransactionTimeoutError {
  return (error as { budget?: unknown } | undefined)?.budget === 'transaction';
}

/** When a transaction must end; started once the transaction holds its connection. */
export class TransactionDeadline {
  readonly at: number;

  constructor(readonly budgetMs: number) {
    this.at = Date.now() + budgetMs;
  }

  remainingMs(): number {
    return this.at - Date.now();
  }

  passed(): boolean {
    return this.remainingMs() <= 0;
  }

  /** Throws the transaction's timeout error once the deadline has passed. */
  check(): void {
    if (this.passed()) throw transactionTimeoutError(this.budgetMs);
  }
}
