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
}

export interface ImportResult {
  created: number;
  updated: number;
  unchanged: number;
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
