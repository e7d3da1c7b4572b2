'use strict';
// Prints, every 2 s, how much CPU each process (and each hub thread) used, in % of one core, read
// from /proc (Linux). Run it beside the bench to see which process takes the cores:
//   node bench/tools/cpu-by-process.js & node bench/run.js --target hub --scenario e2e --repeats 1
// Node processes are named by their script; the hub's threads (main, mapping, GC helpers) are listed
// one by one as hub[<thread id>].
// With TOTAL=1 it prints, when stopped (Ctrl-C, SIGTERM), the CPU seconds each process used since it
// started, by role (HUB_ROLE / BASELINE_ROLE) and main thread vs its other threads (GC helpers,
// mapping threads), for processes that ended meanwhile too: the per-message budget of a whole run:
//   TOTAL=1 node bench/tools/cpu-by-process.js & node bench/run.js --target hub --scenario e2e --repeats 1; kill %1

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
        threads.set(`${pid}/${tid}`, { ticks, label: name === 'main.js' ? `hub[${tid}]` : name, group: `${name}${roleOf(pid)} ${tid === pid ? 'main thread' : 'other threads'}` });
      }
    } catch {
      // the process ended while it was being read
    }
  }
  return threads;
}

/** `:api`, `:worker`, `:all` for a hub or baseline process, from its environment; '' for others. */
const roles = new Map();
function roleOf(pid) {
  if (!roles.has(pid)) {
    let role = '';
    try {
      const match = /(?:^|\0)(?:HUB_ROLE|BASELINE_ROLE)=(\w+)/.exec(fs.readFileSync(`/proc/${pid}/environ`, 'utf8'));
      if (match) role = `:${match[1]}`;
    } catch {
      // not readable: reported without a role
    }
    roles.set(pid, role);
  }
  return roles.get(pid);
}

if (process.env.TOTAL === '1') {
  const first = sample();
  const last = new Map(first);
  setInterval(() => {
    for (const [key, thread] of sample()) last.set(key, thread);
  }, 500);
  const report = () => {
    const byGroup = new Map();
    for (const [key, { ticks, group }] of last) byGroup.set(group, (byGroup.get(group) || 0) + ticks - (first.get(key)?.ticks ?? 0));
    for (const [group, ticks] of [...byGroup].sort((a, b) => b[1] - a[1])) if (ticks > 0) console.log(`${(ticks / TICKS_PER_SECOND).toFixed(2).padStart(8)} s  ${group}`);
    process.exit(0);
  };
  process.on('SIGINT', report);
  process.on('SIGTERM', report);
} else {
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
}
