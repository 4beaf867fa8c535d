/**
 * Building `application/json+openhim` answers: the response the client gets, plus the
 * orchestrations and properties the interop layer stores with the transaction.
 */
import type { MediatorResult, Orchestration, OrchestrationRequest, OrchestrationResponse, TransactionStatus } from './types.js';

export const MEDIATOR_CONTENT_TYPE = 'application/json+openhim';

export class MediatorResponseBuilder {
  private readonly orchestrations: Orchestration[] = [];
  private readonly properties: Record<string, unknown> = {};
  private error: { message: string; stack?: string } | undefined;

  constructor(private readonly urn: string) {}

  /** Records one call the mediator made (request and response, or the error it met). */
  orchestration(name: string, request: OrchestrationRequest, response?: OrchestrationResponse, error?: Error, group?: string): this {
    this.orchestrations.push({
      name,
      request,
      ...(response ? { response } : {}),
      ...(error ? { error: { message: error.message, ...(error.stack ? { stack: error.stack } : {}) } } : {}),
      ...(group ? { group } : {}),
    });
    return this;
  }

  /** Times a call and records it as an orchestration, rethrowing its error after recording. */
  async orchestrate<T extends { status: number; headers?: Record<string, string>; body?: string }>(
    name: string,
    request: Omit<OrchestrationRequest, 'timestamp'>,
    call: () => Promise<T>,
  ): Promise<T> {
    const recorded = { ...request, timestamp: new Date().toISOString() };
    try {
      const result = await call();
      this.orchestration(name, recorded, { status: result.status, ...(result.headers ? { headers: result.headers } : {}), ...(result.body !== undefined ? { body: result.body } : {}), timestamp: new Date().toISOString() });
      return result;
    } catch (error) {
      this.orchestration(name, recorded, undefined, error as Error);
      throw error;
    }
  }

  property(name: string, value: unknown): this {
    this.properties[name] = value;
    return this;
  }

  fail(error: Error): this {
    this.error = { message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
    return this;
  }

  /** The result object; status defaults from the response code (5xx Failed, 2xx Successful, else Completed). */
  build(response: { status: number; headers?: Record<string, string>; body?: unknown }, status?: TransactionStatus): MediatorResult {
    const body = response.body === undefined ? '' : typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
    const headers = { ...(response.headers ?? {}) };
    if (typeof response.body === 'object' && response.body !== null && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    const derived: TransactionStatus = this.error || response.status >= 500 ? 'Failed' : response.status < 300 ? 'Successful' : 'Completed';
    return {
      'x-mediator-urn': this.urn,
      status: status ?? derived,
      response: { status: response.status, headers, body, timestamp: new Date().toISOString() },
      ...(this.orchestrations.length ? { orchestrations: this.orchestrations } : {}),
      ...(Object.keys(this.properties).length ? { properties: this.properties } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }

  /** The HTTP answer to send: status 200 (the real status is inside), content type and body. */
  toHttp(response: { status: number; headers?: Record<string, string>; body?: unknown }, status?: TransactionStatus): { status: number; headers: Record<string, string>; body: string } {
    return { status: 200, headers: { 'content-type': MEDIATOR_CONTENT_TYPE }, body: JSON.stringify(this.build(response, status)) };
  }
}
