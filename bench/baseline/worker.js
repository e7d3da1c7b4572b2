'use strict';
// Baseline worker: one BullMQ job per message carries only the message id (like the hub's jobs);
// the processor loads the row, maps, validates, POSTs the event to every destination and records
// the outcome. A destination that fails gets its own retry job, so a dead destination neither
// delays nor re-sends to the healthy ones (the hub gets the same isolation from per-destination
// queues).

const http = require('node:http');
const { Worker } = require('bullmq');
const { mapShopifyOrder, validateOrder } = require('./mapping');

const RETRY = { attempts: 3, backoff: { type: 'exponential', delay: 100 }, removeOnComplete: true, removeOnFail: 1000 };

function post(agent, target, payload, idempotencyKey) {
  return new Promise((resolve) => {
    const req = http.request({
      host: target.hostname,
      port: target.port,
      path: target.pathname + target.search,
      method: 'POST',
      agent,
      timeout: 10_000,
      headers: {
        'content-type': 'application/cloudevents+json',
        'content-length': Buffer.byteLength(payload),
        'idempotency-key': idempotencyKey,
      },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ok: res.statusCode >= 200 && res.statusCode < 300, status: res.statusCode }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ ok: false, status: 0, error: err.message }));
    req.end(payload);
  });
}

function startWorker({ pool, queue, connection, prefix, queueName, sinkUrls, concurrency, sourceId }) {
  const destinations = sinkUrls.map((u) => ({
    url: new URL(u),
    agent: new http.Agent({ keepAlive: true, maxSockets: concurrency }),
  }));

  const setStatus = (id, status) => pool.query({
    name: 'baseline-status',
    text: 'UPDATE bench_baseline_messages SET status = $2, updated_at = now() WHERE id = $1',
    values: [id, status],
  });

  async function processor(job) {
    const { id, dest } = job.data;
    const { rows } = await pool.query({
      name: 'baseline-load',
      text: 'SELECT body FROM bench_baseline_messages WHERE id = $1',
      values: [id],
    });
    if (!rows.length) return; // table truncated by a newer run
    const raw = JSON.parse(rows[0].body);
    const order = mapShopifyOrder(raw);
    if (!validateOrder(order)) {
      await setStatus(id, 'dead_lettered'); // permanent: retrying a schema violation cannot help
      return;
    }
    const payload = JSON.stringify({
      specversion: '1.0',
      id,
      source: `/connections/${sourceId}`,
      type: 'order.created',
      time: new Date().toISOString(),
      subject: order.orderNumber,
      datacontenttype: 'application/json',
      dataschema: 'order.v1',
      correlationid: id,
      data: order,
    });

    const targets = dest === undefined ? destinations.map((_, i) => i) : [dest];
    const results = await Promise.all(targets.map((i) => post(destinations[i].agent, destinations[i].url, payload, `${id}:${i}`)));

    if (dest !== undefined) {
      if (!results[0].ok) {
        if (job.attemptsMade + 1 >= (job.opts.attempts || 1)) await setStatus(id, 'dead_lettered');
        throw new Error(`destination ${dest} answered ${results[0].status || results[0].error}`);
      }
      await setStatus(id, 'delivered');
      return;
    }
    const failed = targets.filter((_, k) => !results[k].ok);
    if (failed.length) {
      await queue.addBulk(failed.map((i) => ({ name: 'deliver', data: { id, dest: i }, opts: RETRY })));
    }
    await setStatus(id, failed.length ? 'retrying' : 'delivered');
  }

  const worker = new Worker(queueName, processor, { connection, prefix, concurrency });
  worker.on('error', (err) => console.error('baseline worker:', err.message));
  return {
    worker,
    async close() {
      await worker.close();
      for (const d of destinations) d.agent.destroy();
    },
  };
}

module.exports = { startWorker, RETRY };
