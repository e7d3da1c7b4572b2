import * as http from 'node:http';
import { AddressInfo } from 'node:net';

export interface SinkRequest {
  at: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: unknown;
}

export interface SinkResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Hold the answer this long (to simulate a slow destination or keep a delivery in flight). */
  delayMs?: number;
}

/**
 * A real HTTP server standing in for a destination system. It answers from a script of responses
 * (then the fallback), and records every request it saw.
 */
export class FakeDestination {
  readonly requests: SinkRequest[] = [];
  private script: SinkResponse[] = [];
  fallback: SinkResponse = { status: 200, body: '{"ok":true}' };
  /** Requests being answered right now, and the most there ever were at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** Answers each request instead of the script when set (e.g. by what the request carries). */
  answer: ((request: SinkRequest) => SinkResponse) | undefined;
  private server: http.Server;
  url = '';

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: unknown = null;
        try {
          json = JSON.parse(body);
        } catch {
          json = null;
        }
        const request = { at: Date.now(), path: req.url ?? '/', headers: req.headers, body, json };
        this.requests.push(request);
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        const answer = this.answer?.(request) ?? this.script.shift() ?? this.fallback;
        const send = () => {
          this.inFlight--;
          if (res.destroyed) return;
          res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
          res.end(answer.body ?? (answer.status < 300 ? '{"ok":true}' : `{"error":"status ${answer.status}"}`));
        };
        if (answer.delayMs) setTimeout(send, answer.delayMs);
        else send();
      });
    });
  }

  static async start(): Promise<FakeDestination> {
    const sink = new FakeDestination();
    await new Promise<void>((resolve) => sink.server.listen(0, '127.0.0.1', resolve));
    sink.url = `http://127.0.0.1:${(sink.server.address() as AddressInfo).port}/events`;
    return sink;
  }

  /** The next answers, in order; after them the fallback answers. */
  respondWith(...responses: SinkResponse[]): this {
    this.script.push(...responses);
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
