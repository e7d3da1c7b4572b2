'use strict';
// Prints, every 2 s, how much CPU each process (and each hub thread) used, in % of one core, read
// from /proc (Linux). Run it beside the bench to see which process takes the cores:
//   node bench/tools/cpu-by-process.js & node bench/run.js --target hub --scenario e2e --repeats 1
// Node processes are named by their script; the hub's threads (main, mapping, GC helpers) are listed
// one by one as hub[<thread id>].

const fs = require('node:fs');

const INTERVAL_MS = Number(process.env.INTERVAL_MS || 2000);
const TOP = Number(process.env.TOP || 10);
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function processName(pid) {
  const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  if (argv.length === 0) return undefined; // kernel thread
  if (argv[0].startsWith('postgres')) return 'postgres'; // backends retitle themselves "postgres: 15/main: …"
  if (argv[0].endsWith('node')) {
    const script = argv.slice(1).find((a) => !a.startsWith('-')) || '';
    return script.split('/').pop() || 'node';
  }
  return argv[0].split('/').pop().split(' ')[0].split(':')[0] || argv[0];
}

/** CPU ticks used so far by every thread, keyed by pid/tid, with the label it is reported under. */
function sample() {
  const threads = new Map();
  for (const pid of fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let name;
    try {
      name = processName(pid);
      if (!name) continue;
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
        threads.set(`${pid}/${tid}`, { ticks, label: name === 'main.js' ? `hub[${tid}]` : name });
      }
    } catch {
      // the process ended while it was being read
    }
  }
  return threads;
}

let previous = sample();
setInterval(() => {
  const current = sample();
  const byLabel = new Map();
  let total = 0;
  for (const [key, { ticks, label }] of current) {
    const used = ticks - (previous.get(key)?.ticks ?? ticks);
    if (used <= 0) continue;
    byLabel.set(label, (byLabel.get(label) || 0) + used);
    total += used;
  }
  previous = current;
  const percent = (ticks) => Math.round((ticks / TICKS_PER_SECOND / (INTERVAL_MS / 1000)) * 100);
  const top = [...byLabel].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([label, ticks]) => `${label}=${percent(ticks)}`);
  console.log(`${new Date().toISOString().slice(11, 19)} total=${percent(total)}% ${top.join(' ')}`);
}, INTERVAL_MS);
