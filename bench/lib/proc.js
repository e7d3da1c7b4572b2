'use strict';
// Child processes under test: start, wait until ready, watch memory, stop.
//
// Targets run as separate processes (never in the harness) so their CPU and memory are their own
// and the harness's autocannon does not share an event loop with them.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

/** A free TCP port on 127.0.0.1 (tiny race between close and the child's listen; fine for a bench). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Children run in their own process groups (so stop() reaches their forks), which also means a
// dying harness would leave them running. Whatever is still alive when we exit gets SIGKILL.
const live = new Set();
process.once('exit', () => {
  for (const pid of live) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

/**
 * Spawns `cmd args` in its own process group (so stop() also ends any workers it forks), logs its
 * output to logFile and keeps the last lines in memory to explain a failed start.
 */
function start({ name, cmd = process.execPath, args = [], env = {}, cwd, logFile }) {
  if (logFile) fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : null;
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const tail = [];
  const onData = (chunk) => {
    if (log) log.write(chunk);
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 40) tail.shift();
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  live.add(child.pid);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    live.delete(child.pid);
    resolve({ code, signal });
  }));
  let done = false;
  exited.then(() => { done = true; if (log) log.end(); });

  return {
    name,
    child,
    pid: child.pid,
    tail,
    exited,
    get running() { return !done; },
    firstLine: () => new Promise((resolve, reject) => {
      // For children that announce themselves on stdout (the sink prints {"port":N}).
      let buf = '';
      const on = (c) => {
        buf += c.toString();
        const nl = buf.indexOf('\n');
        if (nl >= 0) { child.stdout.off('data', on); resolve(buf.slice(0, nl)); }
      };
      child.stdout.on('data', on);
      exited.then(({ code }) => reject(new Error(`${name} exited with code ${code}: ${tail.slice(-5).join(' | ')}`)));
    }),
    async stop(graceMs = 5000) {
      if (done) return;
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
      const killed = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!killed) {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
        await exited;
      }
    },
  };
}

/** Polls url until it answers 2xx; fails fast if the process dies first. */
async function waitReady(proc, url, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer';
  while (Date.now() < deadline) {
    if (!proc.running) {
      // First line: the child's own error line if it printed one (the report keeps only this line).
      const cause = proc.tail.find((l) => /error|cannot|refused|not found|must/i.test(l) && !/^\s+at /.test(l)) || 'no output';
      throw new Error(`${proc.name} exited before it was ready: ${cause.trim()}\n  ${proc.tail.slice(-10).join('\n  ')}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = err.cause?.code || err.message;
    }
    await sleep(100);
  }
  throw new Error(`${proc.name} not ready at ${url} after ${timeoutMs} ms (${lastError}):\n  ${proc.tail.slice(-10).join('\n  ')}`);
}

function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // exited between listing and reading
  }
}

/** pid plus all its descendants, from the ppid field of /proc/<pid>/stat. */
function processTree(root) {
  const parentOf = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields) parentOf.set(Number(entry), Number(fields[1]));
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parentOf) if (ppid === tree[i]) tree.push(pid);
  }
  return tree;
}

/**
 * Samples the RSS of each named process (with its children) every intervalMs: `members` is
 * [{ name, pid }] (an api and its workers) or one pid. peakMb(): the peak of their sum; peaks():
 * each one's own peak. Child lists are refreshed every 8th sample: scanning /proc is the costly part.
 */
function sampleRss(members, intervalMs = 250) {
  const list = Array.isArray(members) ? members : [{ name: 'target', pid: members }];
  const peaks = new Map(list.map((m) => [m.name, 0]));
  let peakKb = 0;
  let trees = list.map((m) => processTree(m.pid));
  let n = 0;
  const tick = () => {
    if (++n % 8 === 0) trees = list.map((m) => processTree(m.pid));
    let total = 0;
    trees.forEach((tree, i) => {
      let kb = 0;
      for (const p of tree) kb += rssKb(p);
      total += kb;
      if (kb > peaks.get(list[i].name)) peaks.set(list[i].name, kb);
    });
    if (total > peakKb) peakKb = total;
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    peakMb: () => peakKb / 1024,
    /** Each process's own peak, MB, by name. */
    peaks: () => Object.fromEntries([...peaks].map(([name, kb]) => [name, Math.round(kb / 1024)])),
    stop() {
      clearInterval(timer);
      tick();
      return peakKb / 1024;
    },
  };
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parens). */
function statFields(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null; // exited between listing and reading
  }
}

function commandOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
  } catch {
    return '';
  }
}

/**
 * CPU ticks used so far by one process (all its threads), plus those of its children that have
 * exited and been reaped (cutime/cstime): PostgreSQL's postmaster reaps its backends, so a backend
 * that ends mid-run is still counted.
 */
function ticksOf(pid, withReapedChildren = false) {
  const f = statFields(pid);
  if (!f) return 0;
  // utime, stime, cutime, cstime are fields 14-17 of stat: indexes 11-14 after the name.
  return Number(f[11]) + Number(f[12]) + (withReapedChildren ? Number(f[13]) + Number(f[14]) : 0);
}

/**
 * CPU used by the target (the process trees of all its processes), PostgreSQL (every postgres process) and Redis between
 * two snapshots, in ms. Every message costs CPU in all three, so their sum per message is the
 * pipeline's cost on the machine, steadier than a rate when the machine's speed drifts.
 */
function cpuSnapshot(targetPids) {
  const roots = Array.isArray(targetPids) ? targetPids : [targetPids];
  const take = () => {
    const by = { target: 0, postgres: 0, redis: 0 };
    for (const root of roots) for (const pid of processTree(root)) by.target += ticksOf(pid, true);
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const cmd = commandOf(entry);
      if (cmd.startsWith('postgres') || cmd.endsWith('/postgres')) by.postgres += ticksOf(entry, true);
      else if (cmd.includes('redis-server')) by.redis += ticksOf(entry);
    }
    return by;
  };
  const before = take();
  return {
    /** ms of CPU each used since the snapshot. */
    since() {
      const now = take();
      const ms = (k) => ((now[k] - before[k]) / TICKS_PER_SECOND) * 1000;
      return { target: ms('target'), postgres: ms('postgres'), redis: ms('redis') };
    },
  };
}

/**
 * Several processes as one target: `members` [{ name, proc }] (an api and its workers, or one
 * process); pid is the first's, stop() stops the workers first, then the api (as a deploy would).
 */
function processGroup(members) {
  return {
    name: members.map((m) => m.name).join('+'),
    pid: members[0].proc.pid,
    members: members.map((m) => ({ name: m.name, pid: m.proc.pid })),
    get running() { return members.every((m) => m.proc.running); },
    tail: members.flatMap((m) => m.proc.tail.map((line) => `${m.name}: ${line}`)),
    async stop() {
      for (const m of [...members].reverse()) await m.proc.stop();
    },
  };
}

module.exports = { freePort, start, waitReady, sampleRss, cpuSnapshot, processGroup, sleep };
