import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { randomInt, randomUUID } from 'node:crypto';
import request from 'supertest';
import { QueueName, QueueService } from '@omnihub/queueing';
import { FakeAmazon, startFakeAmazon } from '../../connectors/amazon-sp/fake-amazon';
import { NEWEST_POLLABLE_MS } from '../../connectors/amazon-sp/settings';
import { ChildHub, spawnHub, waitForOutput } from '../support/child-hub';
import { TestHub, resetDatabase, startHub, testEnv, waitFor } from '../support/hub';

type Json = Record<string, unknown>;
const samples = path.join(__dirname, '../../connectors/amazon-sp/fixtures');
const sampleOrder = (JSON.parse(fs.readFileSync(path.join(samples, 'amazon-sp-getorders-response.json'), 'utf8')) as { payload: { Orders: Json[] } }).payload.Orders[0];
const sampleItems = (JSON.parse(fs.readFileSync(path.join(samples, 'amazon-sp-getorderitems-response.json'), 'utf8')) as { payload: { OrderItems: Json[] } }).payload.OrderItems;
const MARKETPLACE = 'ATVPDKIKX0DER';
const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** An Amazon order (the sample's shape) with a fresh id, last updated at `updatedAt` (whole seconds, as Amazon's). */
function amazonOrder(updatedAt: number): { order: Json; items: Json[] } {
  const id = `${randomInt(100, 999)}-${randomInt(1e6, 1e7 - 1)}-${randomInt(1e6, 1e7 - 1)}`;
  const updated = isoSeconds(updatedAt);
  return {
    order: { ...sampleOrder, AmazonOrderId: id, SellerOrderId: id, PurchaseDate: updated, LastUpdateDate: updated, MarketplaceId: MARKETPLACE },
    items: sampleItems.map((item, i) => ({ ...item, OrderItemId: `${id.replace(/-/g, '')}${i}` })),
  };
}

/** getOrders as the vendor sees them: how many are being answered right now, the most ever at once, and how many came. */
interface Meter {
  inFlight: number;
  max: number;
  calls: number;
}
const meter = (): Meter => ({ inFlight: 0, max: 0, calls: 0 });

/** Held getOrders answers wait for this while it is closed. */
class Gate {
  private opened: Promise<void> | undefined;
  private release = () => undefined as void;
  close(): void {
    this.opened ??= new Promise<void>((resolve) => (this.release = resolve));
  }
  open(): void {
    this.release();
    this.opened = undefined;
  }
  passed(): Promise<void> {
    return this.opened ?? Promise.resolve();
  }
}

/**
 * A connection's "Amazon": an HTTP server in front of a fake Amazon that forwards every request,
 * holds each getOrders answer (`hold`) and counts the getOrders in flight on each of `meters`, from
 * the request's arrival until its answer is written. One per connection, so a meter of its own
 * counts that connection's calls; a meter shared by two proxies counts the vendor's.
 */
async function startMeteredAmazon(upstream: string, meters: Meter[], hold: () => Promise<void>): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(upstream);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const getOrders = req.method === 'GET' && (req.url ?? '').split('?')[0] === '/orders/v0/orders';
      if (getOrders) {
        for (const m of meters) {
          m.calls++;
          m.inFlight++;
          m.max = Math.max(m.max, m.inFlight);
        }
      }
      let answered = false;
      const done = () => {
        if (getOrders && !answered) for (const m of meters) m.inFlight--;
        answered = true;
      };
      res.on('close', done);
      void (getOrders ? hold() : Promise.resolve())
        .then(
          () =>
            new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
              const forwarded = http.request(
                { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
                (answer) => {
                  const body: Buffer[] = [];
                  answer.on('data', (chunk: Buffer) => body.push(chunk));
                  answer.on('end', () => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(body) }));
                  answer.on('error', reject);
                },
              );
              forwarded.on('error', reject);
              forwarded.end(Buffer.concat(chunks));
            }),
        )
        .then(
          (answer) => {
            done(); // before the answer leaves: the next call the hub makes after it is not counted as overlapping this one
            res.writeHead(answer.status, answer.headers).end(answer.body);
          },
          (error: Error) => {
            done();
            res.writeHead(502).end(JSON.stringify({ proxyError: error.message }));
          },
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * "Never two polls of one connection at once, across worker processes." Two worker processes (the
 * production build) poll one amazon-sp connection every second, against the same database and Redis
 * prefix as this process, which plays the api role only. Every getOrders answer is slow, so a poll of
 * several pages outlasts its interval and the scheduler's next job (taken by either process) finds
 * the first still running; the vendor side counts the getOrders in flight for the connection.
 */
describe('polling one connection from two worker processes', () => {
  let hub: TestHub;
  const workers: Array<{ child: ChildHub; url: string }> = [];
  let amazon: FakeAmazon;
  let quietAmazon: FakeAmazon;
  const gate = new Gate();
  const vendor = meter(); // every connection's getOrders at the (shared) vendor
  const polled = meter(); // the polled connection's
  const other = meter(); // a second connection's, for the control
  let polledAmazon: { url: string; close(): Promise<void> };
  let otherAmazon: { url: string; close(): Promise<void> };
  // 300–500 ms per getOrders answer, and as long as the gate is closed.
  const hold = async () => {
    await sleep(300 + Math.random() * 200);
    await gate.passed();
  };
  let connectionId: string;
  let orders: Array<{ order: Json; items: Json[] }>;

  beforeAll(async () => {
    const env = testEnv();
    hub = await startHub({ ...env, HUB_ROLE: 'api' });
    await resetDatabase(hub.dataSource);
    const ports = [await freePort(), await freePort()];
    for (const port of ports) workers.push({ child: spawnHub({ ...env, HUB_ROLE: 'worker', PORT: String(port) }), url: `http://127.0.0.1:${port}` });
    await Promise.all(workers.map((w) => waitForOutput(w.child, /listening/)));
    amazon = await startFakeAmazon({ rateLimit: '50.0' }); // a fast stated rate, so the token buckets do not hold the polls for a minute
    quietAmazon = await startFakeAmazon({ rateLimit: '50.0' });
    polledAmazon = await startMeteredAmazon(amazon.url, [polled, vendor], hold);
    otherAmazon = await startMeteredAmazon(quietAmazon.url, [other, vendor], hold);
  });
  afterAll(async () => {
    gate.open();
    for (const { child } of workers) child.process.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.child.exited));
    await hub?.close();
    await Promise.all([polledAmazon?.close(), otherAmazon?.close(), amazon?.close(), quietAmazon?.close()]);
  });

  async function createAmazon(baseUrl: string, config: Json): Promise<string> {
    const response = await hub.admin.post('/api/connections', {
      connector: 'amazon-sp',
      name: `amazon-${randomUUID().slice(0, 6)}`,
      config: { marketplaceIds: [MARKETPLACE], baseUrl, lwaUrl: `${baseUrl}/auth/o2/token`, initialLookbackHours: 2, ...config },
      secrets: { lwaClientId: amazon.clientId, lwaClientSecret: amazon.clientSecret, refreshToken: amazon.refreshToken },
    });
    expect(response.status).toBe(201);
    return response.body.id as string;
  }

  const cursorOf = async (id: string) => (await hub.admin.get(`/api/connections/${id}/poll`)).body.cursor as { after?: string; before?: string; nextToken?: string } | null;
  const messagesOf = async (id: string) => (await hub.admin.get(`/api/messages?connectionId=${id}&limit=100`)).body.items as Array<{ vendorDeliveryId: string; status: string }>;
  /** Each worker process's omnihub_polls_total for the connection, by outcome. */
  const pollsIn = async (id: string): Promise<Array<Record<string, number>>> =>
    Promise.all(
      workers.map(async ({ url }) => {
        const counts: Record<string, number> = {};
        for (const line of (await request(url).get('/metrics')).text.split('\n')) {
          if (!line.startsWith('omnihub_polls_total{') || !line.includes(`connection="${id}"`)) continue;
          counts[/outcome="([^"]+)"/.exec(line)![1]] = Number(line.slice(line.lastIndexOf(' ') + 1));
        }
        return counts;
      }),
    );
  const total = (counts: Array<Record<string, number>>, outcome: string) => counts.reduce((sum, c) => sum + (c[outcome] ?? 0), 0);
  /** The first page of each poll that reached Amazon (a NextToken page repeats its window). */
  const windows = () => amazon.calls.filter((c) => c.operation === 'getOrders' && c.query.LastUpdatedAfter !== undefined).map((c) => c.query);

  it('polls every second from both processes, one poll at a time: windows end to end, every order ingested once, the cursor advancing', async () => {
    amazon.pageSize = 2; // the first poll's six orders are three slow pages: longer than the interval
    const start = Date.now();
    const backlog = [60, 50, 40, 30, 20, 10].map((minutesAgo) => amazonOrder(start - minutesAgo * 60_000));
    // Orders that become pollable (older than the window's edge) two a second while the test runs, a page's worth.
    const arriving = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5].map((s) => amazonOrder(start - NEWEST_POLLABLE_MS + s * 1000));
    orders = [...backlog, ...arriving];
    for (const o of orders) amazon.putOrder(o.order, o.items);
    connectionId = await createAmazon(polledAmazon.url, { pollIntervalSeconds: 1 });

    const stored = await waitFor(async () => {
      const found = await messagesOf(connectionId);
      return found.length >= orders.length && found.every((m) => m.status === 'completed') ? found : undefined;
    }, 'every order stored and transformed', 25000);
    // (a) Several polls, in both processes (either may take any poll job).
    await waitFor(async () => {
      const counts = await pollsIn(connectionId);
      return total(counts, 'completed') >= 6 && counts.every((c) => (c.completed ?? 0) > 0);
    }, 'six polls completed, some in each process', 20000, 200);
    const lastArrival = Date.parse(arriving.at(-1)!.order.LastUpdateDate as string);
    const cursor = await waitFor(async () => {
      const c = await cursorOf(connectionId);
      return c?.after && !c.nextToken && Date.parse(c.after) >= lastArrival ? c : undefined;
    }, 'the cursor past the last order');

    // (b) Never two getOrders of the connection at once, though the polls outlasted the interval (overlapping jobs were refused).
    expect(polled.max).toBe(1);
    const polls = await pollsIn(connectionId);
    expect(total(polls, 'overlapping')).toBeGreaterThan(0);
    expect(total(polls, 'failed')).toBe(0);
    // Each poll started where the one before ended: none started from a cursor another poll was still moving.
    const seen = windows();
    expect(seen.length).toBeGreaterThanOrEqual(6);
    for (let i = 1; i < seen.length; i++) expect(seen[i].LastUpdatedAfter).toBe(seen[i - 1].LastUpdatedBefore);
    // (c) Each order stored once, its items fetched once.
    expect(stored.map((m) => m.vendorDeliveryId).sort()).toEqual(orders.map((o) => `${o.order.AmazonOrderId}@${o.order.LastUpdateDate}`).sort());
    const itemCalls = amazon.calls.filter((c) => c.operation === 'getOrderItems' && c.query.NextToken === undefined).map((c) => c.orderId); // first pages: the items are paged too
    expect(itemCalls.sort()).toEqual(orders.map((o) => o.order.AmazonOrderId as string).sort());
    // (d) The cursor advanced with the windows: from the first window's end to the end of the latest one.
    expect(Date.parse(cursor.after!)).toBeGreaterThan(Date.parse(seen[0].LastUpdatedBefore));
    expect(seen.map((w) => w.LastUpdatedBefore)).toContain(cursor.after);
  });

  it('a "poll now" while a scheduled poll is in flight starts no second one; another connection’s poll does run beside it', async () => {
    const queue = hub.app.get(QueueService).queue(QueueName.POLL);
    gate.close();
    await waitFor(async () => polled.inFlight === 1, 'a scheduled poll’s getOrders held at Amazon');
    const callsAtHold = polled.calls;
    const refused = total(await pollsIn(connectionId), 'overlapping');
    // The schedule keeps firing every second, in either process: each finds the poll running.
    await waitFor(async () => total(await pollsIn(connectionId), 'overlapping') >= refused + 2, 'scheduled polls refused while one runs');

    const pollNow = await hub.admin.post(`/api/connections/${connectionId}/poll`, {});
    expect(pollNow.status).toBe(202);
    expect(pollNow.body).toEqual({ queued: true });
    // Done (removed on completion) while the held poll is still held: it did not wait for Amazon, so it did not poll.
    await waitFor(async () => !(await queue.getJob(`poll-now-${connectionId}`)), 'the poll-now job done', 10000);
    expect(polled.inFlight).toBe(1);
    expect(polled.calls).toBe(callsAtHold);
    expect(polled.max).toBe(1);

    // The control: the meter does see two polls at once when nothing serialises them (two connections, two leases).
    const otherId = await createAmazon(otherAmazon.url, { pollIntervalSeconds: 86400 }); // polled once, when its schedule is created
    await waitFor(async () => vendor.inFlight === 2, 'the other connection’s getOrders beside the held one', 10000);
    expect(other.inFlight).toBe(1);
    expect(polled.inFlight).toBe(1);
    expect(vendor.max).toBe(2);

    const completed = total(await pollsIn(connectionId), 'completed');
    gate.open();
    await waitFor(async () => total(await pollsIn(connectionId), 'completed') > completed, 'the held poll completed');
    await waitFor(async () => total(await pollsIn(otherId), 'completed') === 1, 'the other connection’s poll completed');
    expect(polled.max).toBe(1);
    const seen = windows();
    for (let i = 1; i < seen.length; i++) expect(seen[i].LastUpdatedAfter).toBe(seen[i - 1].LastUpdatedBefore);
    expect((await messagesOf(connectionId)).length).toBe(orders.length);
  });
});
