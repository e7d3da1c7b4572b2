'use strict';
// Preload for a target process: samples what it allocates, including objects that die young (the
// ones a CPU profile shows only as garbage-collector time), and writes a .heapprofile when the
// process gets SIGTERM (the bench stops targets that way). Sampling starts after 5 s, past startup.
//
//   BENCH_HUB_NODE_ARGS="-r $PWD/bench/tools/alloc-sampling.js" node bench/run.js --target hub --scenario e2e --repeats 1
//   node bench/tools/alloc-top.js /tmp/alloc-<pid>.heapprofile
//
// ALLOC_PROFILE_DIR sets where the profile goes (default: the OS temp directory).

const inspector = require('node:inspector');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const session = new inspector.Session();
session.connect();
setTimeout(() => {
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 32 * 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  }, (error) => { if (error) console.error(`alloc-sampling: ${error.message}`); });
}, 5000).unref();

process.prependListener('SIGTERM', () => {
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error) return;
    const file = path.join(process.env.ALLOC_PROFILE_DIR || os.tmpdir(), `alloc-${process.pid}.heapprofile`);
    fs.writeFileSync(file, JSON.stringify(result.profile));
  });
});
