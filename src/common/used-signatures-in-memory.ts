/**
 * The router's sender assertions a service has already acted on, kept in memory until they expire,
 * so a captured request cannot be played again within its validity (sender-identity.ts). For a
 * service of one process without a database (the patient-registration mediator); the client
 * registry keeps its own in the database, shared by its replicas (used-sender-signatures.ts).
 */
export class UsedSignaturesInMemory {
  private readonly expiries = new Map<string, number>();
  private insertsSincePurge = 0;

  /** At most `max` unexpired ones: beyond that a new one is refused rather than an old one forgotten. */
  constructor(private readonly max = 100_000) {}

  /** Records a signature; false when it was used before, or when the table is full. */
  use(signature: string, expiresAtMs: number, now = Date.now()): boolean {
    if (this.expiries.has(signature)) return false;
    if (++this.insertsSincePurge >= 1024 || this.expiries.size >= this.max) this.purge(now);
    if (this.expiries.size >= this.max) return false;
    this.expiries.set(signature, expiresAtMs);
    return true;
  }

  get size(): number {
    return this.expiries.size;
  }

  private purge(now: number): void {
    this.insertsSincePurge = 0;
    for (const [signature, expiresAtMs] of this.expiries) if (expiresAtMs <= now) this.expiries.delete(signature);
  }
}
