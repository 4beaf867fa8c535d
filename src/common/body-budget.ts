/**
 * The bytes of bodies a service holds at once (a FHIR service's FHIR_MAX_INFLIGHT_BODY_BYTES,
 * the router's OPENHIM_ROUTER_MAX_INFLIGHT_BYTES). A request reserves its bytes before they are
 * read and releases them when its exchange ends, so many large bodies at once get 503 instead of
 * exhausting memory (bodies are buffered, not streamed).
 */
export class BodyBudget {
  private held = 0;

  constructor(readonly maxBytes: number) {}

  /** Takes bytes from the budget; false (and nothing taken) when they do not fit. */
  tryReserve(bytes: number): boolean {
    if (bytes <= 0) return true;
    if (this.held + bytes > this.maxBytes) return false;
    this.held += bytes;
    return true;
  }

  release(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }

  get heldBytes(): number {
    return this.held;
  }
}
