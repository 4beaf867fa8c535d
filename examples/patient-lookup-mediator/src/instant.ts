/** The part of Instant's service contract this mediator uses (docs/package-format.md). */
export interface Settings {
  get(name: string): string | undefined;
  require(name: string): string;
  int(name: string, fallback?: number): number;
  bool(name: string, fallback?: boolean): boolean;
}

export interface Logger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

export interface ServiceContext {
  name: string;
  settings: Settings;
  logger: Logger;
}

export interface RunningService {
  endpoints: Record<string, string>;
  healthUrl: string;
  stop(): Promise<void>;
}
