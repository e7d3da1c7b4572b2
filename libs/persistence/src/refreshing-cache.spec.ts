import { RefreshingCache } from './refreshing-cache';

/** A load whose answers the test hands out one by one, counting the calls. */
function controlledLoad() {
  const calls: Array<(value: string) => void> = [];
  const fail: Array<(error: Error) => void> = [];
  const load = () =>
    new Promise<string>((resolve, reject) => {
      calls.push(resolve);
      fail.push(reject);
    });
  return { calls, fail, load };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A cache holding `v1` for key `k`, loaded at time 0, and the controlled load behind it. */
async function primed(c: RefreshingCache<string>) {
  const control = controlledLoad();
  const first = c.get('k', control.load);
  control.calls[0]!('v1');
  await first;
  return control;
}

describe('RefreshingCache', () => {
  let now = 0;
  const cache = () => new RefreshingCache<string>(1000, () => undefined, () => now);
  beforeEach(() => (now = 0));

  it('shares one load among callers that arrive together', async () => {
    const c = cache();
    const { calls, load } = controlledLoad();
    const waiting = [c.get('k', load), c.get('k', load), c.get('k', load)];
    expect(calls).toHaveLength(1);
    calls[0]!('v1');
    expect(await Promise.all(waiting)).toEqual(['v1', 'v1', 'v1']);
  });

  it('serves a fresh value without loading', async () => {
    const c = cache();
    const { calls, load } = await primed(c);
    now = 999;
    expect(await c.get('k', load)).toBe('v1');
    expect(calls).toHaveLength(1);
  });

  it('after the TTL serves the stale value at once and refreshes once in the background', async () => {
    const c = cache();
    const { calls, load } = await primed(c);
    now = 1500;
    expect(await c.get('k', load)).toBe('v1');
    expect(await c.get('k', load)).toBe('v1');
    expect(calls).toHaveLength(2);
    calls[1]!('v2');
    await tick();
    expect(await c.get('k', load)).toBe('v2');
  });

  it('never serves a value older than twice the TTL: the caller waits for a fresh one', async () => {
    const c = cache();
    const { calls, load } = await primed(c);
    now = 2000;
    const second = c.get('k', load);
    let settled = false;
    void second.then(() => (settled = true));
    await tick();
    expect(settled).toBe(false);
    calls[1]!('v2');
    expect(await second).toBe('v2');
  });

  it('keeps the stale value when a background refresh fails, and reports the failure once', async () => {
    const errors: unknown[] = [];
    const c = new RefreshingCache<string>(1000, (_key, error) => errors.push(error), () => now);
    const { calls, fail, load } = await primed(c);
    now = 1200;
    for (let i = 0; i < 5; i++) expect(await c.get('k', load)).toBe('v1');
    expect(calls).toHaveLength(2); // one background refresh, however many callers saw the stale value
    fail[1]!(new Error('database away'));
    await tick();
    expect(errors).toEqual([new Error('database away')]);
    expect(await c.get('k', load)).toBe('v1');
  });

  it('after invalidate loads again, and an older load in flight does not put its answer back', async () => {
    const c = cache();
    const { calls, load } = controlledLoad();
    const before = c.get('k', load);
    c.invalidate();
    const after = c.get('k', load);
    expect(calls).toHaveLength(2);
    // The newer load answers first; the older one, answering last, must not overwrite it.
    calls[1]!('new');
    expect(await after).toBe('new');
    calls[0]!('old');
    expect(await before).toBe('old');
    expect(await c.get('k', load)).toBe('new');
    expect(calls).toHaveLength(2);
  });

  it('does not cache a failed first load', async () => {
    const c = cache();
    const { calls, fail, load } = controlledLoad();
    const first = c.get('k', load);
    fail[0]!(new Error('no'));
    await expect(first).rejects.toThrow('no');
    const second = c.get('k', load);
    calls[1]!('v');
    expect(await second).toBe('v');
  });

  it('drops entries too old to serve once it holds more than it should', async () => {
    const c = new RefreshingCache<string>(1000, () => undefined, () => now, 2);
    await c.get('a', async () => 'a1');
    await c.get('b', async () => 'b1');
    now = 2500;
    let loads = 0;
    const counted = (v: string) => async () => {
      loads++;
      return v;
    };
    await c.get('c', counted('c1')); // a third entry: a and b, loaded at 0, are past 2 × TTL and go
    expect(c.size).toBe(1);
    now = 2600;
    expect(await c.get('c', counted('c2'))).toBe('c1');
    expect(await c.get('a', counted('a2'))).toBe('a2');
    expect(loads).toBe(2);
  });
});
