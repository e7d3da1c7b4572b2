/**
 * Coalesces concurrent calls into batches: callers that arrive while batches are in flight wait,
 * then share the next one. For writes this is group commit (each caller's promise settles only
 * once the write holding its item has committed); for reads, one query answers many callers.
 * Under load many items share one round trip; at low load a batch holds one item and adds no delay.
 */
export class Batcher<TItem, TResult> {
  private pending: Array<{ item: TItem; resolve: (result: TResult) => void; reject: (error: unknown) => void }> = [];
  private inFlight = 0;

  /**
   * `run` gets up to `maxBatch` items and answers one result per item, in order. `maxInFlight`
   * batches may run at once: with more than one, a caller waits for a free slot instead of for the
   * whole batch ahead of it, which halves the wait where the round trip dominates (group commit).
   */
  constructor(
    private readonly run: (items: TItem[]) => Promise<TResult[]>,
    private readonly maxBatch = 500,
    private readonly maxInFlight = 1,
  ) {}

  submit(item: TItem): Promise<TResult> {
    return new Promise<TResult>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.inFlight < this.maxInFlight) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.inFlight++;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.maxBatch);
        try {
          const results = await this.run(batch.map((p) => p.item));
          batch.forEach((p, i) => p.resolve(results[i]!));
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      this.inFlight--;
    }
  }
}
