import { randomBytes } from 'node:crypto';
import { FakeVendorServer, VendorReply, VendorRequest } from '../../test/support/fake-vendor';

/**
 * A stand-in for api.easypost.com's tracker endpoints, for contract tests of this connector and of
 * anything that routes to it. Modelled on EasyPost's documented behaviour: HTTP basic auth with the
 * API key as user name, `{"error":{"code","message","errors":[]}}` error bodies, `trk_…` ids, and
 * test-mode keys (EZTK…) accepting only EasyPost's test tracking codes. The error codes and texts
 * follow EasyPost's shapes; they are not byte-for-byte copies of its answers.
 */
export interface FakeTracker {
  id: string;
  object: 'Tracker';
  mode: 'test' | 'production';
  tracking_code: string;
  carrier: string;
  status: string;
  status_detail: string;
  tracking_details: unknown[];
  created_at: string;
  updated_at: string;
}

export interface FakeEasyPost {
  server: FakeVendorServer;
  url: string;
  apiKey: string;
  /** Trackers created so far, in order. */
  trackers: FakeTracker[];
  /** The POST /v2/trackers requests received (answered or not). */
  trackerRequests(): VendorRequest[];
  /** The next POST /v2/trackers for this tracking code gets `reply` instead (one shot), e.g. a 503 mid-way through a shipment. */
  failNextCreate(trackingCode: string, reply: VendorReply): void;
  close(): Promise<void>;
}

export interface FakeEasyPostOptions {
  /** Default a test-mode key, so only EZ1000000001 … EZ7000000007 are valid tracking codes. */
  apiKey?: string;
}

/** EasyPost's test tracking codes and the status each tracker takes [RECALL: EasyPost test-mode docs]. */
const TEST_CODES: Record<string, [status: string, detail: string]> = {
  EZ1000000001: ['pre_transit', 'label_created'],
  EZ2000000002: ['in_transit', 'arrived_at_facility'],
  EZ3000000003: ['out_for_delivery', 'out_for_delivery'],
  EZ4000000004: ['delivered', 'arrived_at_destination'],
  EZ5000000005: ['return_to_sender', 'return'],
  EZ6000000006: ['failure', 'unknown'],
  EZ7000000007: ['unknown', 'unknown'],
};

const error = (status: number, code: string, message: string, errors: unknown[] = []): VendorReply => ({ status, body: { error: { code, message, errors } } });

/** The API key of a basic Authorization header (`key:` with an empty password), or undefined. */
function apiKeyOf(request: VendorRequest): string | undefined {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Basic\s+(\S+)$/i.exec(header) : null;
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? decoded : decoded.slice(0, colon);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export async function startFakeEasyPost(options: FakeEasyPostOptions = {}): Promise<FakeEasyPost> {
  const apiKey = options.apiKey ?? 'EZTK_fake_test_key';
  const mode = apiKey.startsWith('EZTK') ? 'test' : 'production';
  const trackers: FakeTracker[] = [];
  const failures = new Map<string, VendorReply>();

  const handle = (request: VendorRequest): VendorReply => {
    const key = apiKeyOf(request);
    if (!key) return error(401, 'APIKEY.REQUIRED', 'An API key is required: send it as the HTTP basic user name.');
    if (key !== apiKey) return error(401, 'APIKEY.REQUIRED', 'The API key is not valid.');
    const path = request.path.split('?')[0];
    if (request.method === 'POST' && path === '/v2/trackers') return createTracker(request);
    const found = /^\/v2\/trackers\/([^/]+)$/.exec(path);
    if (request.method === 'GET' && found) {
      const tracker = trackers.find((t) => t.id === found[1]);
      return tracker ? { status: 200, body: tracker } : error(404, 'NOT_FOUND', 'The requested resource could not be found.');
    }
    return error(404, 'NOT_FOUND', 'The requested resource could not be found.');
  };

  const createTracker = (request: VendorRequest): VendorReply => {
    if (!isRecord(request.json)) return error(400, 'BAD_REQUEST', 'The request body is not JSON.');
    const params = isRecord(request.json.tracker) ? request.json.tracker : {};
    const code = typeof params.tracking_code === 'string' ? params.tracking_code.trim() : '';
    const injected = failures.get(code);
    if (injected) {
      failures.delete(code);
      return injected;
    }
    if (!code) return error(422, 'PARAMETER.REQUIRED', 'Missing required parameter.', [{ field: 'tracking_code', message: 'cannot be blank' }]);
    const test = TEST_CODES[code];
    if (mode === 'test' && !test) {
      return error(422, 'TRACKER.CREATE.ERROR', 'In test mode, only test tracking numbers are valid. Test tracking numbers are EZ1000000001, EZ2000000002, ... , EZ7000000007');
    }
    if (!/^[A-Za-z0-9]{4,64}$/.test(code)) return error(422, 'TRACKER.CREATE.ERROR', `The tracking code ${code} is not valid.`);
    const at = now();
    const tracker: FakeTracker = {
      id: `trk_${randomBytes(16).toString('hex')}`,
      object: 'Tracker',
      mode,
      tracking_code: code,
      carrier: typeof params.carrier === 'string' && params.carrier ? params.carrier : mode === 'test' ? 'USPS' : 'UPS',
      status: test?.[0] ?? 'unknown',
      status_detail: test?.[1] ?? 'unknown',
      tracking_details: [],
      created_at: at,
      updated_at: at,
    };
    trackers.push(tracker);
    return { status: 201, body: tracker };
  };

  const server = await FakeVendorServer.start(handle);
  return {
    server,
    url: server.url,
    apiKey,
    trackers,
    trackerRequests: () => server.seen('/v2/trackers', 'POST'),
    failNextCreate: (trackingCode, reply) => void failures.set(trackingCode, reply),
    close: () => server.close(),
  };
}
