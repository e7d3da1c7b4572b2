import * as http from 'node:http';
import { AddressInfo } from 'node:net';

export interface VendorRequest {
  method: string;
  /** Path with the query string, e.g. `/v2/orders/abc?x=1`. */
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON, or null when it is not JSON. */
  json: unknown;
}

export interface VendorReply {
  status: number;
  headers?: Record<string, string>;
  /** A string is sent as it is; anything else as JSON. */
  body?: unknown;
}

export type VendorHandler = (request: VendorRequest) => VendorReply | Promise<VendorReply>;

/**
 * A real HTTP server standing in for a vendor's API. A connector's fake (connectors/<id>/fake-<id>.ts)
 * gives it the vendor's behaviour: its auth check, its routes, its error bodies, its throttling.
 * Every request is recorded; `queue` makes the next answers scripted (429 with Retry-After, a 500,
 * a slow answer) before the vendor's own behaviour resumes.
 */
export class FakeVendorServer {
  readonly requests: VendorRequest[] = [];
  private readonly scripted: Array<VendorReply | Promise<VendorReply>> = [];
  private readonly server: http.Server;
  url = '';

  private constructor(private readonly handler: VendorHandler) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: unknown = null;
        try {
          json = body ? JSON.parse(body) : null;
        } catch {
          json = null;
        }
        const request: VendorRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body, json };
        this.requests.push(request);
        const next = this.scripted.shift();
        Promise.resolve(next ?? this.handler(request))
          .then((reply) => {
            const text = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
            res.writeHead(reply.status, { 'content-type': 'application/json', ...(reply.headers ?? {}) }).end(text);
          })
          .catch((error: Error) => res.writeHead(500).end(JSON.stringify({ fakeServerError: error.message })));
      });
    });
  }

  static async start(handler: VendorHandler): Promise<FakeVendorServer> {
    const fake = new FakeVendorServer(handler);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The next requests get these answers, in order, whatever they ask; a promise holds its answer until it settles. */
  queue(...replies: Array<VendorReply | Promise<VendorReply>>): void {
    this.scripted.push(...replies);
  }

  /** Requests whose path starts with `prefix` (and method, when given). */
  seen(prefix: string, method?: string): VendorRequest[] {
    return this.requests.filter((r) => r.path.startsWith(prefix) && (!method || r.method === method));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
