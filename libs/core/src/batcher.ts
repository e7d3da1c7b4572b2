/**
 * Coalesces concurrent calls into batches: callers that arrive while a batch is in flight wait,
 * then share the next one. For writes this is group commit (each caller's promise settles only
 * once the write holding its item has committed); for reads, one query answers many callers.
 * Under load many items share one round trip; at low load a batch holds one item and adds no delay.
 */
export class Batcher<TItem, TResult> {
  private pending: Array<{ item: TItem; resolve: (result: TResult) => void; reject: (error: unknown) => void }> = [];
  private writing = false;
  /** The run of batches under way, until nothing is pending. */
  private draining: Promise<void> = Promise.resolve();

  /** `run` gets up to `maxBatch` items and answers one result per item, in order. */
  constructor(
    private readonly run: (items: TItem[]) => Promise<TResult[]>,
    private readonly maxBatch = 500,
  ) {}

  submit(item: TItem): Promise<TResult> {
    return new Promise<TResult>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.writing) this.draining = this.drain();
    });
  }

  /** Settles once every item submitted so far has had its batch run (before a shutdown closes what `run` writes to). */
  idle(): Promise<void> {
    return this.draining;
  }

  private async drain(): Promise<void> {
    this.writing = true;
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
      this.writing = false;
    }
  }
}
