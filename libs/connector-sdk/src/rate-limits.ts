import { parseRetryAfter } from './classify';
import { HttpRequest, HttpResponse, RateLimits } from './contracts';

/** How many 429s one call rides out (each waits out its Retry-After) before its caller gets the 429. */
const MAX_THROTTLED_TRIES = 4;

export interface LimitedRequestOptions {
  /** The header in which the vendor states the operation's actual rate (requests per second), e.g. `x-amzn-ratelimit-limit`. */
  rateHeader?: string;
}

/**
 * One vendor call through its operation's token bucket: waits for a token, sends, takes the rate
 * the vendor states, and on a 429 empties the bucket for its Retry-After and sends again, a few
 * times, so a throttled poll slows down instead of losing its page. The last 429 is returned.
 */
export async function limitedRequest(
  context: { http: { request(options: HttpRequest): Promise<HttpResponse> }; rateLimits: RateLimits },
  operation: string,
  request: HttpRequest,
  options: LimitedRequestOptions = {},
): Promise<HttpResponse> {
  for (let tries = 1; ; tries++) {
    await context.rateLimits.take(operation);
    const response = await context.http.request(request);
    const stated = options.rateHeader ? Number(response.headers[options.rateHeader.toLowerCase()]) : NaN;
    if (Number.isFinite(stated) && stated > 0) await context.rateLimits.setRate(operation, stated);
    if (response.status !== 429 || tries >= MAX_THROTTLED_TRIES) return response;
    await context.rateLimits.throttled(operation, parseRetryAfter(response.headers['retry-after']));
  }
}
