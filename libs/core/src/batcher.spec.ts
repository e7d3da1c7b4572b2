import { Batcher } from './batcher';

/** A run whose batches finish only when the test says so, recording what each batch held. */
function controlledRun() {
  const batches: number[][] = [];
  const finishers: Array<(fail?: Error) => void> = [];
  const run = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push(items);
      finishers.push((fail) => (fail ? reject(fail) : resolve(items.map((i) => `r${i}`))));
    });
  return { batches, finishers, run };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Batcher', () => {
  it('with one batch in flight, callers arriving meanwhile share the next batch', async () => {
    const { batches, finishers, run } = controlledRun();
    const batcher = new Batcher(run, 10);
    const first = batcher.submit(1);
    const rest = [2, 3, 4].map((i) => batcher.submit(i));
    await tick();
    expect(batches).toEqual([[1]]);
    finishers[0]!();
    expect(await first).toBe('r1');
    await tick();
    expect(batches).toEqual([[1], [2, 3, 4]]);
    finishers[1]!();
    expect(await Promise.all(rest)).toEqual(['r2', 'r3', 'r4']);
  });

  it('a failed batch rejects its own callers only, and the batcher keeps working', async () => {
    const { finishers, run } = controlledRun();
    const batcher = new Batcher(run, 10);
    const failed = batcher.submit(1);
    const next = batcher.submit(2);
    await tick();
    finishers[0]!(new Error('database down'));
    await expect(failed).rejects.toThrow('database down');
    await tick();
    finishers[1]!();
    expect(await next).toBe('r2');
  });

  it('never puts more than maxBatch items in one batch', async () => {
    const { batches, finishers, run } = controlledRun();
    const batcher = new Batcher(run, 2);
    const all = [1, 2, 3, 4, 5].map((i) => batcher.submit(i));
    await tick();
    finishers[0]!();
    await tick();
    finishers[1]!();
    await tick();
    finishers[2]!();
    expect(await Promise.all(all)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(batches).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('idle() waits for every batch submitted so far, including those queued behind the one in flight', async () => {
    const { finishers, run } = controlledRun();
    const batcher = new Batcher(run, 10);
    await batcher.idle(); // nothing submitted: settles at once
    const first = batcher.submit(1);
    const second = batcher.submit(2);
    let idle = false;
    void batcher.idle().then(() => (idle = true));
    await tick();
    finishers[0]!();
    await first;
    await tick();
    expect(idle).toBe(false); // the second batch is still being written
    finishers[1]!(new Error('database down'));
    await expect(second).rejects.toThrow('database down');
    await tick();
    expect(idle).toBe(true);
  });
});
