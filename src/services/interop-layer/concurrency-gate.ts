/**
 * Bounds work running at once, refusing past the bound rather than queueing. Used for bcrypt
 * verifications and certificate generation (POST /certificates).
 *
 * Bcrypt: bounds the verifications running at once. bcryptjs is plain JavaScript on the event
 * loop and a wrong password is never cached, so a few parallel bad logins for a bcrypt client
 * would otherwise hold the shared process; past the bound a verification is not started and
 * the login fails at once (a client whose password verified before is answered from the cache).
 */
export class ConcurrencyGate {
  private inFlight = 0;

  constructor(private readonly max: number) {}

  /** Runs `work` when a slot is free; undefined (not run) when all are taken. */
  async run<T>(work: () => Promise<T>): Promise<T | undefined> {
    if (this.inFlight >= this.max) return undefined;
    this.inFlight++;
    try {
      return await work();
    } finally {
      this.inFlight--;
    }
  }
}
