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

  /** Records a signature: 'used' when it was used before, 'full' when the table holds `max` unexpired ones. */
  use(signature: string, expiresAtMs: number, now = Date.now()): 'recorded' | 'used' | 'full' {
    if (this.expiries.has(signature)) return 'used';
    if (++this.insertsSincePurge >= 1024 || this.expiries.size >= this.max) this.purge(now);
    if (this.expiries.size >= this.max) return 'full';
    this.expiries.set(signature, expiresAtMs);
    return 'recorded';
  }

  get size(): number {
    return this.expiries.size;
  }

  private purge(now: number): void {
    this.insertsSincePurge = 0;
    for (const [signature, expiresAtMs] of this.expiries) if (expiresAtMs <= now) this.expiries.delete(signature);
  }
}
