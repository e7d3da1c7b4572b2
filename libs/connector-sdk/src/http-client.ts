import * as http from 'node:http';
import * as https from 'node:https';
import axios, { AxiosInstance } from 'axios';
import { HttpClient, HttpResponse } from './contracts';

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
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 256 }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 256 }),
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
