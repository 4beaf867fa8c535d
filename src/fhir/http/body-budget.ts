/**
 * The bytes of request bodies a FHIR service holds at once (FHIR_MAX_INFLIGHT_BODY_BYTES). A
 * request reserves its declared Content-Length before its body is read (or, without one, each
 * chunk as it arrives) and releases it when its response is sent or its connection closes, so
 * many large bodies at once get 503 instead of exhausting memory.
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
