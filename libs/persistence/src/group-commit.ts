/**
 * Group commit: callers that arrive while a write is in flight wait, then share the next write.
 * Each caller's promise settles only when the write holding its item has committed. Under load
 * many items share one round trip; at low load a write holds one item and adds no delay.
 */
export class GroupCommit<TItem, TResult> {
  private pending: Array<{ item: TItem; resolve: (result: TResult) => void; reject: (error: unknown) => void }> = [];
  private writing = false;

  /** `write` gets up to `maxBatch` items and answers one result per item, in order. */
  constructor(
    private readonly write: (items: TItem[]) => Promise<TResult[]>,
    private readonly maxBatch = 500,
  ) {}

  submit(item: TItem): Promise<TResult> {
    return new Promise<TResult>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.maxBatch);
        try {
          const results = await this.write(batch.map((p) => p.item));
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
