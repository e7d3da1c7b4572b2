import { Injectable } from '@nestjs/common';

/**
 * Whether this process is stopping, and what it still has in flight. Once draining, the ingress
 * answers new webhooks 503 and readiness fails, so vendors retry and load balancers route
 * elsewhere while what was already taken (requests, jobs, batched writes) finishes.
 */
@Injectable()
export class HubLifecycle {
  private drainingSince: number | undefined;
  private readonly counters = new Map<string, () => number>();

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /** Idempotent: a second signal, or app.close() after the signal, changes nothing. */
  beginDrain(): void {
    this.drainingSince ??= Date.now();
  }

  /** Names something that can be in flight, for the shutdown's report if it runs out of time. */
  track(what: string, count: () => number): void {
    this.counters.set(what, count);
  }

  /** What is still in flight, e.g. `{ "delivery jobs": 3 }`; empty when nothing is. */
  inFlight(): Record<string, number> {
    const busy: Record<string, number> = {};
    for (const [what, count] of this.counters) {
      const n = count();
      if (n > 0) busy[what] = n;
    }
    return busy;
  }
}
