// A Map with a maximum size that evicts the least recently used entry, so per-query and
// per-principal bookkeeping stays bounded however many queries pass through the gateway.
export class BoundedMap<K, V> {
  readonly maxSize: number;
  private readonly entries = new Map<K, V>();
  private readonly onEvict?: (key: K, value: V) => void;
  /**
   * Kept across evictions: a fresh `entries()` iterator walks every deleted slot at the front of
   * V8's table (~76 µs per eviction at 100,000 entries). Everything before this cursor has been
   * deleted (entries only ever move to the end), so its next entry is always the oldest live one.
   */
  private evictionCursor: Iterator<[K, V]> | undefined;

  /** `onEvict` is told about entries dropped for space (not about explicit deletes). */
  constructor(maxSize: number, onEvict?: (key: K, value: V) => void) {
    if (!(maxSize >= 1)) throw new Error(`BoundedMap maxSize must be >= 1, got ${maxSize}`);
    this.maxSize = maxSize;
    this.onEvict = onEvict;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Returns the value and marks it most recently used. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  /** Returns the value without touching its recency. */
  peek(key: K): V | undefined {
    return this.entries.get(key);
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  set(key: K, value: V): this {
    this.entries.delete(key);
    return this.insertAbsent(key, value);
  }

  /**
   * `set` for a key the caller knows is absent: it has just missed a `get`, with no `await` between.
   * Called with a present key it would replace the value without moving it to the end (and a caller
   * counting entries would count it twice). One lookup less than `set`, which counts at ~100,000
   * entries (a miss in a large table costs a few hundred ns in cache misses).
   */
  insertAbsent(key: K, value: V): this {
    this.entries.set(key, value);
    while (this.entries.size > this.maxSize) {
      let next = this.evictionCursor?.next();
      if (!next || next.done) {
        this.evictionCursor = this.entries.entries();
        next = this.evictionCursor.next();
      }
      const [oldest, evicted] = next.value as [K, V];
      this.entries.delete(oldest);
      this.onEvict?.(oldest, evicted);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  values(): IterableIterator<V> {
    return this.entries.values();
  }

  /** Live, least recently used first; deleting the entry just visited is safe. */
  liveEntries(): IterableIterator<[K, V]> {
    return this.entries.entries();
  }

  entriesList(): Array<[K, V]> {
    return [...this.entries.entries()];
  }
}
