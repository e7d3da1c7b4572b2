import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { MappingTimeoutError } from './jsonata-runner';

/** Which engine produced a mapping's output: jsonata-compiler's closures, or jsonata itself. */
export type MappingEngine = 'compiled' | 'jsonata';

/** What a mapping thread answers: the output as JSON text, or why there is none. */
export type ThreadOutcome =
  | { ok: true; json: string; engine: MappingEngine }
  | { ok: false; kind: 'parse' | 'mapping'; message: string; position?: number };

interface Job {
  id: number;
  key: string;
  expression: string;
  body: string;
  bindings: Record<string, unknown>;
  timeoutMs: number;
  resolve: (outcome: ThreadOutcome) => void;
  reject: (error: Error) => void;
}

interface Thread {
  worker: Worker;
  inFlight: Map<number, { job: Job; timer: NodeJS.Timeout }>;
  /** Mapping keys whose expression this thread has been sent (it caches them compiled). */
  knownKeys: Set<string>;
}

/** Requests a thread works on at once: enough to batch the message passing, few enough that a re-dispatch after a kill is cheap. */
const PIPELINE_DEPTH = 16;
const THREAD_HEAP_MB = 96;
/** Next to this file in the sources and in the build (tsconfig allowJs copies it). */
const COMPILER_MODULE = join(__dirname, 'jsonata-compiler.js');
/** Mappings allocate short-lived objects only; a small young generation keeps each thread's resident memory down. */
const THREAD_YOUNG_MB = 8;

/*
 * The thread's code, kept as a string so the same file serves tests (TypeScript sources) and the
 * production build. It parses the vendor body losslessly and evaluates the mapping (cached per
 * mapping version): compiled to synchronous closures when jsonata-compiler covers the expression,
 * with jsonata itself otherwise. A compiled evaluation that throws is re-run by jsonata on a fresh
 * parse of the body, so errors (and any case the compiler would get wrong by throwing) are jsonata's.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const jsonata = require('jsonata');
const { parse, isInteger, isSafeNumber } = require('lossless-json');
const { createJsonataCompiler } = require(workerData.compilerModule);
const compilerReady = createJsonataCompiler(jsonata);
const cache = new Map();
const parseNumber = (v) => (isInteger(v) && !isSafeNumber(v) ? v : Number(v));
// Same rule as parseVendorJson in libs/core: the native parser unless a number could lose digits.
const parseBody = (body) => (/\\d{16}/.test(body) ? parse(body, null, parseNumber) : JSON.parse(body));
function mappingFor(key, expression) {
  let entry = cache.get(key);
  if (!entry) {
    // The pool sends an expression with the first request for its key on this thread only.
    if (expression === undefined) return Promise.reject(new Error('mapping ' + key + ' is not loaded on this thread'));
    // Cached as a promise at once, so requests that follow before it is compiled share it.
    entry = compilerReady.then((compiler) => {
      let compiled = null;
      try {
        compiled = compiler.compile(expression);
      } catch (error) {
        // Unsupported constructs and syntax errors alike: jsonata evaluates, and reports the latter.
      }
      return { compiled, interpreted: jsonata(expression) };
    });
    cache.set(key, entry);
  }
  return entry;
}
async function run({ id, key, expression, body, bindings }) {
  let input;
  try {
    input = parseBody(body);
  } catch (error) {
    return { id, outcome: { ok: false, kind: 'parse', message: error.message } };
  }
  try {
    const mapping = await mappingFor(key, expression);
    let value;
    let engine = 'jsonata';
    if (mapping.compiled) {
      try {
        value = mapping.compiled.evaluate(input, bindings);
        engine = 'compiled';
      } catch (error) {
        input = parseBody(body);
      }
    }
    if (engine === 'jsonata') value = await mapping.interpreted.evaluate(input, bindings);
    return { id, outcome: { ok: true, engine, json: value === undefined ? 'null' : JSON.stringify(value) } };
  } catch (error) {
    const message = error && error.code ? (error.code + ' ' + (error.message || '')).trim() : String(error && error.message || error);
    return { id, outcome: { ok: false, kind: 'mapping', message, position: error && error.position } };
  }
}
// Requests and answers travel in batches: one message each way per dispatch, not per mapping.
parentPort.on('message', async ({ jobs }) => {
  parentPort.postMessage({ answers: await Promise.all(jobs.map(run)) });
});
`;

/**
 * JSONata evaluation off the event loop, in a small pool of worker threads. Mapping is the most
 * CPU-hungry step of the message path; here it uses the machine's other cores, and a runaway
 * mapping (an endless recursion, or one built-in call over a huge array) is stopped by terminating
 * its thread, which no in-process time check can do. Other requests on that thread are re-run.
 */
export class MappingThreadPool {
  private readonly threads: Thread[] = [];
  private readonly waiting: Job[] = [];
  private nextId = 1;
  private closed = false;
  private dispatchScheduled = false;

  /**
   * Threads start with the first mapping, not with the pool: an api process, which maps only for
   * a dry run, does not carry a pool's memory (tens of MB per thread) for nothing.
   */
  constructor(private readonly size: number) {}

  evaluate(key: string, expression: string, body: string, bindings: Record<string, unknown>, timeoutMs: number): Promise<ThreadOutcome> {
    if (this.closed) return Promise.reject(new Error('mapping thread pool is closed'));
    while (this.threads.length < this.size) this.threads.push(this.spawn());
    return new Promise<ThreadOutcome>((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, key, expression, body, bindings, timeoutMs, resolve, reject });
      // Requests made in one turn of the event loop (a transform batch) leave together.
      if (!this.dispatchScheduled) {
        this.dispatchScheduled = true;
        setImmediate(() => {
          this.dispatchScheduled = false;
          this.dispatch();
        });
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) job.reject(new Error('mapping thread pool is closed'));
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      const thread = this.threads.reduce((best, t) => (t.inFlight.size < best.inFlight.size ? t : best));
      const room = PIPELINE_DEPTH - thread.inFlight.size;
      if (room <= 0) return;
      const jobs = this.waiting.splice(0, Math.max(1, Math.ceil(Math.min(room, this.waiting.length) / this.threads.length)));
      const messages = jobs.map((job) => {
        const timer = setTimeout(() => this.timeOut(thread, job.id), job.timeoutMs);
        thread.inFlight.set(job.id, { job, timer });
        const known = thread.knownKeys.has(job.key);
        thread.knownKeys.add(job.key);
        return { id: job.id, key: job.key, expression: known ? undefined : job.expression, body: job.body, bindings: job.bindings };
      });
      thread.worker.postMessage({ jobs: messages });
    }
  }

  private spawn(): Thread {
    // A heap limit per thread: a mapping that builds something enormous kills its thread, not the hub.
    const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { compilerModule: COMPILER_MODULE }, resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB, maxYoungGenerationSizeMb: THREAD_YOUNG_MB } });
    const thread: Thread = { worker, inFlight: new Map(), knownKeys: new Set() };
    worker.unref();
    worker.on('message', ({ answers }: { answers: Array<{ id: number; outcome: ThreadOutcome }> }) => {
      for (const { id, outcome } of answers) {
        const entry = thread.inFlight.get(id);
        if (!entry) continue;
        clearTimeout(entry.timer);
        thread.inFlight.delete(id);
        entry.job.resolve(outcome);
      }
      this.dispatch();
    });
    worker.on('error', (error) => this.replace(thread, undefined, error));
    return thread;
  }

  /** The job that ran too long fails; its thread is killed and replaced; the others queue again. */
  private timeOut(thread: Thread, jobId: number): void {
    const entry = thread.inFlight.get(jobId);
    if (!entry) return;
    thread.inFlight.delete(jobId);
    entry.job.reject(new MappingTimeoutError(`mapping ran longer than ${entry.job.timeoutMs} ms`));
    this.replace(thread, jobId);
  }

  private replace(thread: Thread, culprit: number | undefined, error?: Error): void {
    const index = this.threads.indexOf(thread);
    if (index < 0) return;
    void thread.worker.terminate();
    const orphans = [...thread.inFlight.values()];
    thread.inFlight.clear();
    for (const { job, timer } of orphans) {
      clearTimeout(timer);
      if (error && job.id !== culprit) job.reject(error);
    }
    if (this.closed) return;
    this.threads[index] = this.spawn();
    if (!error) this.waiting.unshift(...orphans.map((o) => o.job));
    this.dispatch();
  }
}
