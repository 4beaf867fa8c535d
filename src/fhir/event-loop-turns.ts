/**
 * Long loops of synchronous work (validating and indexing the many resources of one transaction)
 * give the event loop back every few milliseconds, so one large request cannot hold the process
 * (its router, admin API and health checks) for seconds. FHIR_MAX_RESOURCE_ELEMENTS bounds one
 * resource; a bundle's many resources together are bounded only by the body limit.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

export class EventLoopTurns {
  private since = performance.now();

  constructor(private readonly sliceMs = 20) {}

  /** Yields to other work once this loop has run for a slice since it last did. */
  async share(): Promise<void> {
    if (performance.now() - this.since < this.sliceMs) return;
    await nextTurn();
    this.since = performance.now();
  }
}
