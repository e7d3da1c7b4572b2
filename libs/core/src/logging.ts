import pino, { DestinationStream, Level, Logger, LoggerOptions } from 'pino';

/**
 * The hub's one logger: pino, one JSON object per line on stdout (level, time, msg and fields),
 * for Nest's Logger (see createHubApp), Fastify and the start-up lines before Nest. Created once per
 * process, so the first line already obeys HUB_LOG_LEVEL. On a terminal outside production the
 * same lines are pretty-printed; a pipe (a container, CI, the tests) always gets JSON.
 */

/** Header and field names whose values are never written: signatures, tokens, keys, passwords. */
export const SENSITIVE_NAME = /signature|hmac|token|secret|authorization|cookie|password|api[-_]?key/i;
export const REDACTED = '[redacted]';

const SIGNATURE_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'x-shopify-hmac-sha256', 'x-square-hmacsha256-signature', 'x-hmac-signature', 'x-signature', 'stripe-signature'];
const SECRET_FIELDS = ['secret', 'secrets', 'signingSecret', 'webhookSecret', 'password', 'token', 'accessToken', 'apiKey', 'signature', 'authorization'];

/** pino's redact paths: the known headers wherever a header map is logged, and secret-named fields at the top and one level down. */
export const REDACT_PATHS = [
  ...['headers', 'req.headers', 'request.headers', 'res.headers', 'response.headers'].flatMap((at) => SIGNATURE_HEADERS.map((h) => `${at}["${h}"]`)),
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`]),
];

/** A header map with every value whose name looks sensitive replaced (for names the paths above do not list). */
export function redactHeaders(headers: unknown): unknown {
  if (!headers || typeof headers !== 'object') return headers;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers as Record<string, unknown>)) out[name] = SENSITIVE_NAME.test(name) ? REDACTED : value;
  return out;
}

type RequestLike = { method?: string; url?: string; host?: string; ip?: string; headers?: unknown; socket?: { remoteAddress?: string } };

const serializers = {
  headers: redactHeaders,
  /** Fastify's request (or Node's): what identifies it, and its headers redacted. */
  req: (req: RequestLike) => ({ method: req.method, url: req.url, host: req.host, remoteAddress: req.ip ?? req.socket?.remoteAddress, headers: redactHeaders(req.headers) }),
  /** An HTTP client's error carries its request config (an Authorization header, a body): only the error itself is kept. */
  err: (err: Error) => {
    const serialized = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
    for (const field of ['config', 'request', 'response', 'headers']) delete serialized[field];
    return serialized;
  },
};

const LEVELS: ReadonlyArray<Level | 'silent'> = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** HUB_LOG_LEVEL as a pino level; Nest's names are accepted too (`log` is info, `verbose` is trace). */
export function pinoLevel(level: string | undefined): Level | 'silent' {
  const name = (level ?? '').trim().toLowerCase();
  if (name === 'log') return 'info';
  if (name === 'verbose') return 'trace';
  return LEVELS.includes(name as Level) ? (name as Level) : 'info';
}

export function hubLoggerOptions(level: string | undefined): LoggerOptions {
  return {
    level: pinoLevel(level),
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    serializers,
  };
}

/** Pretty output for a person at a terminal, never in production or into a pipe. pino-pretty is a dev dependency: without it, JSON. */
function destination(): DestinationStream {
  if (process.env.NODE_ENV !== 'production' && process.stdout.isTTY) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const pretty = require('pino-pretty') as (options: Record<string, unknown>) => DestinationStream;
      return pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
    } catch {
      // not installed (a production install): JSON it is
    }
  }
  // Synchronous, so the line before a process.exit is written.
  return pino.destination({ dest: 1, sync: true });
}

let root: Logger | undefined;

/** The process's logger; `level` (HUB_LOG_LEVEL from the loaded config) sets its level, else HUB_LOG_LEVEL from the environment. */
export function hubLogger(level?: string): Logger {
  root ??= pino(hubLoggerOptions(level ?? process.env.HUB_LOG_LEVEL), destination());
  if (level !== undefined) root.level = pinoLevel(level);
  return root;
}

/**
 * Start-up notices an operator must see once, whatever HUB_LOG_LEVEL says short of `silent`: the
 * address the process listens on (what supervisors and tests wait for), a generated admin key, the
 * outcome of a secret-key rotation. JSON lines at their own level (info or warn), like the rest.
 */
export function startupNotices(): Logger {
  const logger = hubLogger();
  if (logger.level === 'silent' || logger.isLevelEnabled('info')) return logger;
  return logger.child({}, { level: 'info' });
}
