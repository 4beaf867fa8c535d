/**
 * A bounded least-recently-used map for concepts read by $lookup and $validate-code: the hot codes
 * of a deployment (the few thousand a clinic's forms use) are answered without a statement.
 * Bounded twice, by entries and by (approximate) bytes, so neither many small nor a few huge
 * concepts (thousands of designations) can grow the process. Values are frozen when stored: a hit
 * hands out the very object a miss stored, and nobody may change it.
 *
 * Whether a cached value is still true is the ConceptStore's business (concept-store.ts): it
 * clears this map on every CodeSystem write it hears of and skips it while one is open.
 */

/** Per entry beside its value: the key, the map's slot, the bookkeeping (a rough figure). */
const ENTRY_OVERHEAD_BYTES = 96;

export class ConceptCache<V> {
  private readonly entries = new Map<string, { value: V; bytes: number; at: number }>();
  private heldBytes = 0;
  /** Bumped by clear(): a read that began before a clear must not store what it read. */
  private clears = 0;
  /** Answers from memory and reads that missed since start (for the bench and operators' curiosity). */
  hits = 0;
  misses = 0;

  constructor(readonly maxEntries: number, readonly maxBytes: number) {}

  get enabled(): boolean {
    return this.maxEntries > 0 && this.maxBytes > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /** A token to pass to set(): the value is stored only if nothing was cleared since. */
  get generation(): number {
    return this.clears;
  }

  /** The value, unless absent or stored more than maxAgeMs ago. */
  get(key: string, maxAgeMs = Infinity): V | undefined {
    const entry = this.entries.get(key);
    if (!entry || (maxAgeMs !== Infinity && Date.now() - entry.at > maxAgeMs)) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Most recently used last: Map keeps insertion order, so re-inserting moves it to the end.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, generation: number): void {
    if (!this.enabled || generation !== this.clears) return;
    const bytes = ENTRY_OVERHEAD_BYTES + key.length * 2 + approximateBytes(value);
    if (bytes > this.maxBytes) return; // one value larger than the whole cache: not worth evicting everything
    const previous = this.entries.get(key);
    if (previous) {
      this.entries.delete(key);
      this.heldBytes -= previous.bytes;
    }
    this.entries.set(key, { value: deepFreeze(value), bytes, at: Date.now() });
    this.heldBytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.heldBytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.heldBytes -= entry.bytes;
    }
  }

  clear(): void {
    this.clears++;
    this.entries.clear();
    this.heldBytes = 0;
  }
}

/** Roughly what a plain JSON-like value holds in memory: 2 bytes a character, 16 a slot or number. */
export function approximateBytes(value: unknown): number {
  if (typeof value === 'string') return 16 + value.length * 2;
  if (value === null || typeof value !== 'object') return 16;
  let bytes = 32;
  if (Array.isArray(value)) {
    for (const item of value) bytes += 8 + approximateBytes(item);
    return bytes;
  }
  for (const key in value) bytes += 16 + approximateBytes((value as Record<string, unknown>)[key]);
  return bytes;
}

function deepFreeze<V>(value: V): V {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key in value) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
