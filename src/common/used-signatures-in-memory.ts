/**
 * The router's sender assertions a service has already acted on, kept in memory until they expire,
 * so a captured request cannot be played again within its validity (sender-identity.ts). For a
 * service of one process without a database (the patient-registration mediator); the client
 * registry keeps its own in the database, shared by its replicas (used-sender-signatures.ts).
 * Bounded per client and in all: a client past its share is refused (never an old signature
 * forgotten), and only that client, so one client's flood locks nobody else out.
 */
export class UsedSignaturesInMemory {
  private readonly byClient = new Map<string, Map<string, number>>();
  private total = 0;
  private insertsSincePurge = 0;

  constructor(private readonly perClient = 20_000, private readonly max = 200_000) {}

  /** Records a client's signature: 'used' when it was used before, 'full' when the client (or the table) holds its most. */
  use(clientID: string, signature: string, expiresAtMs: number, now = Date.now()): 'recorded' | 'used' | 'full' {
    let own = this.byClient.get(clientID);
    if (own?.has(signature)) return 'used';
    if (++this.insertsSincePurge >= 1024 || (own?.size ?? 0) >= this.perClient || this.total >= this.max) this.purge(now);
    own = this.byClient.get(clientID);
    if ((own?.size ?? 0) >= this.perClient || this.total >= this.max) return 'full';
    if (!own) this.byClient.set(clientID, (own = new Map()));
    own.set(signature, expiresAtMs);
    this.total++;
    return 'recorded';
  }

  get size(): number {
    return this.total;
  }

  private purge(now: number): void {
    this.insertsSincePurge = 0;
    for (const [clientID, own] of this.byClient) {
      for (const [signature, expiresAtMs] of own) {
        if (expiresAtMs > now) continue;
        own.delete(signature);
        this.total--;
      }
      if (!own.size) this.byClient.delete(clientID);
    }
  }
}
