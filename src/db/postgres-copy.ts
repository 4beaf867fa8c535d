/**
 * `COPY ... FROM STDIN` over one pg connection: a pg "submittable" (the protocol object pg's
 * Client.query accepts besides text) that sends the COPY data when the server asks for it.
 * pg itself has no COPY API; pg-copy-streams would bring streams for what is one buffer here.
 */
export class CopyIn {
  /** The rows loaded, once the server is ready again; PostgreSQL's error (code and all) otherwise. */
  readonly done: Promise<number>;
  private resolve!: (rows: number) => void;
  private reject!: (error: Error) => void;
  private rows = 0;

  constructor(private readonly sql: string, private readonly data: Uint8Array) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  submit(connection: { query(sql: string): void }): void {
    connection.query(this.sql);
  }

  handleCopyInResponse(connection: { sendCopyFromChunk(chunk: Uint8Array): void; endCopyFrom(): void }): void {
    const CHUNK = 1 << 20;
    for (let at = 0; at < this.data.length; at += CHUNK) connection.sendCopyFromChunk(this.data.subarray(at, at + CHUNK));
    connection.endCopyFrom();
  }

  handleCommandComplete(message: { text: string }): void {
    this.rows = Number(/COPY (\d+)/.exec(message.text)?.[1] ?? 0);
  }

  handleReadyForQuery(): void {
    this.resolve(this.rows);
  }

  /**
   * At once: pg stops telling this query anything after an error (its client waits for the
   * server's ReadyForQuery itself before it runs the next query on the connection).
   */
  handleError(error: Error): void {
    this.reject(error);
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}
