/**
 * A read-through cache for settings every message needs (connections, routes): fresh for `ttlMs`,
 * then served stale for up to another `ttlMs` while one background load refreshes it, so the
 * message path neither waits for the database at each expiry nor sends it one query per waiting
 * caller. A value older than twice the TTL is never served: the caller waits for a fresh load, so a
 * change made by another process shows within 2 × ttlMs however long a key sat unused.
 * `invalidate` (this process changed something) drops every value at once, and a load that was
 * already running when it was called does not put its now-outdated answer back.
 */
export class RefreshingCache<V> {
  private readonly entries = new Map<string, { value: V; loadedAt: number }>();
  private readonly loading = new Map<string, Promise<V>>();
  private generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly onRefreshError: (key: string, error: unknown) => void = () => undefined,
    private readonly now: () => number = Date.now,
    /** Past this many entries, those too old to serve are dropped (ids asked for once, e.g. by a stray webhook URL). */
    private readonly sweepAbove = 1000,
  ) {}

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const entry = this.entries.get(key);
    const age = entry ? this.now() - entry.loadedAt : Infinity;
    if (entry && age < this.ttlMs) return entry.value;
    if (entry && age < 2 * this.ttlMs) {
      // One background refresh at a time, reported once if it fails; the stale value serves until
      // it is too old to.
      if (!this.loading.has(key)) this.load(key, load).catch((error: unknown) => this.onRefreshError(key, error));
      return entry.value;
    }
    return this.load(key, load);
  }

  /** Entries held, fresh or not. */
  get size(): number {
    return this.entries.size;
  }

  invalidate(): void {
    this.generation++;
    this.entries.clear();
    this.loading.clear();
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (now - entry.loadedAt >= 2 * this.ttlMs) this.entries.delete(key);
  }

  /** One load per key at a time; everyone who asks meanwhile shares it. */
  private load(key: string, load: () => Promise<V>): Promise<V> {
    const running = this.loading.get(key);
    if (running) return running;
    const generation = this.generation;
    const started = this.now();
    const loaded = load()
      .then((value) => {
        if (generation === this.generation) {
          this.entries.set(key, { value, loadedAt: started });
          if (this.entries.size > this.sweepAbove) this.sweep();
        }
        return value;
      })
      .finally(() => {
        if (this.loading.get(key) === loaded) this.loading.delete(key);
      });
    this.loading.set(key, loaded);
    return loaded;
  }
}
