import * as http from 'node:http';
import * as https from 'node:https';
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import axios, { AxiosInstance } from 'axios';
import { HttpClient, HttpResponse } from './contracts';

const KEEP_ALIVE_MS = 1000;

/**
 * Node's agent re-applies TCP keep-alive to a socket (setsockopt system calls) every time the socket
 * goes back to the pool, once per request; it showed in profiles. These agents apply it once per
 * socket. Everything else in keepSocketAlive (timeouts, the server's keep-alive hint) still runs.
 */
function applyKeepAliveOnce<T extends http.Agent>(agent: T): T {
  const applied = new WeakSet<object>();
  const keepSocketAlive = agent.keepSocketAlive.bind(agent);
  agent.keepSocketAlive = (socket: Duplex): void => {
    const tcp = socket as Socket;
    if (!applied.has(tcp)) {
      applied.add(tcp);
      tcp.setKeepAlive(true, KEEP_ALIVE_MS);
      tcp.setKeepAlive = function alreadyKeptAlive(this: Socket) {
        return this;
      };
    }
    return keepSocketAlive(socket);
  };
  return agent;
}

function hasProxyEnvironment(): boolean {
  return ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'].some((name) => Boolean(process.env[name]));
}

/**
 * The HTTP client connectors are handed: keep-alive sockets (one TLS handshake per destination, not
 * per delivery), no redirects, and every status returned rather than thrown.
 */
export class AxiosHttpClient implements HttpClient {
  private readonly axios: AxiosInstance;

  constructor() {
    this.axios = axios.create({
      httpAgent: applyKeepAliveOnce(new http.Agent({ keepAlive: true, keepAliveMsecs: KEEP_ALIVE_MS, maxSockets: 256 })),
      httpsAgent: applyKeepAliveOnce(new https.Agent({ keepAlive: true, keepAliveMsecs: KEEP_ALIVE_MS, maxSockets: 256 })),
      maxRedirects: 0,
      // Without a proxy in the environment, skip axios' per-request proxy lookup (it showed in profiles).
      ...(hasProxyEnvironment() ? {} : { proxy: false as const }),
      validateStatus: () => true,
      transformResponse: [(data: unknown) => data],
      responseType: 'text',
    });
  }

  async request(options: Parameters<HttpClient['request']>[0]): Promise<HttpResponse> {
    const response = await this.axios.request<string>({
      method: options.method,
      url: options.url,
      headers: options.headers,
      data: options.body,
      timeout: options.timeoutMs,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined && value !== null) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    return { status: response.status, headers, body: typeof response.data === 'string' ? response.data : '' };
  }
}
