import type { AppliedConfig } from './applied-config.js';
import type { Logger } from '../../common/logger.js';

export interface ImportContext {
  /** The resolved settings, secrets included, for ${NAME} placeholders and credentials. */
  vars: Record<string, string>;
  /** service name → endpoint name → URL, of the running stack. */
  endpoints: Record<string, Record<string, string>>;
  logger: Logger;
  /** The service that receives the import, when the package names one. */
  service?: string;
  /** Reports how far a long import is (e.g. "3000/15000 resources"). */
  progress?(message: string): void;
  /** Tells the user something they should know about the import (an operator's change kept). */
  notice?(message: string): void;
  /** What was applied before (embedded target): items an operator changed or deleted since are kept as they are. */
  applied?: AppliedConfig;
  /** Apply every item as the package gives it, operator changes and deletions notwithstanding (`init --reset-config`). */
  resetConfig?: boolean;
}

export interface ImportResult {
  created: number;
  updated: number;
  unchanged: number;
  /** Items an operator changed or deleted since they were applied, left as the operator made them. */
  kept?: number;
}

/** An importer applies one declarative file to a running service over its public API. */
export type Importer = (content: unknown, context: ImportContext, origin: string) => Promise<ImportResult>;

export async function readJsonResponse(response: Response, what: string): Promise<unknown> {
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${what} failed: HTTP ${response.status} ${text.slice(0, 500)}`);
  }
  return text ? JSON.parse(text) : undefined;
}
