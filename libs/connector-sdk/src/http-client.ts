import * as dns from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { LookupFunction, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import axios, { AxiosInstance } from 'axios';
import { DestinationPolicy } from '@omnihub/core';
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

/**
 * The destination policy refused the request before a byte was sent (a private or metadata
 * address). No retry can help; the message names the host and address, never the URL, which may
 * carry credentials.
 */
export class DestinationRefusedError extends Error {
  readonly code = 'DESTINATION_REFUSED';

  constructor(message: string) {
    super(message);
    this.name = 'DestinationRefusedError';
  }
}

/**
 * Resolves names for the agents, refusing the connection when any address the name has is not
 * allowed. The socket connects to the address checked here, so a name that answers a public
 * address to one lookup and a private one to the next (DNS rebinding) cannot get past the check.
 */
function guardedLookup(policy: DestinationPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '');
      const refusal = addresses.map(({ address }) => policy.refusalOfAddress(address, hostname)).find(Boolean);
      if (refusal) return callback(new DestinationRefusedError(refusal), '');
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

function hostOf(url: string): string {
  return URL.canParse(url) ? new URL(url).hostname : '';
}

function hasProxyEnvironment(): boolean {
  return ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'].some((name) => Boolean(process.env[name]));
}

/**
 * The HTTP client connectors are handed: keep-alive sockets (one TLS handshake per destination, not
 * per delivery), no redirects, every status returned rather than thrown, and only to addresses the
 * destination policy allows: IP literals are checked here, names at every connect.
 */
export class AxiosHttpClient implements HttpClient {
  private readonly axios: AxiosInstance;

  constructor(private readonly policy: DestinationPolicy) {
    const lookup = guardedLookup(policy);
    this.axios = axios.create({
      httpAgent: applyKeepAliveOnce(new http.Agent({ keepAlive: true, keepAliveMsecs: KEEP_ALIVE_MS, maxSockets: 256, lookup })),
      httpsAgent: applyKeepAliveOnce(new https.Agent({ keepAlive: true, keepAliveMsecs: KEEP_ALIVE_MS, maxSockets: 256, lookup })),
      maxRedirects: 0,
      // Without a proxy in the environment, skip axios' per-request proxy lookup (it showed in profiles).
      ...(hasProxyEnvironment() ? {} : { proxy: false as const }),
      validateStatus: () => true,
      transformResponse: [(data: unknown) => data],
      responseType: 'text',
    });
  }

  async request(options: Parameters<HttpClient['request']>[0]): Promise<HttpResponse> {
    // Node connects to an IP literal without a lookup, so literals (and loopback names) are judged here.
    const refusal = this.policy.refusalOfHost(hostOf(options.url));
    if (refusal) throw new DestinationRefusedError(refusal);
    let response;
    try {
      response = await this.axios.request<string>({
        method: options.method,
        url: options.url,
        headers: options.headers,
        data: options.body,
        timeout: options.timeoutMs,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      // axios wraps the lookup's refusal; hand connectors the refusal itself, so they classify it as one.
      const cause = (error as { cause?: unknown }).cause;
      throw cause instanceof DestinationRefusedError ? cause : error;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined && value !== null) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    return { status: response.status, headers, body: typeof response.data === 'string' ? response.data : '' };
  }
}
