'use strict';
// Reads a .heapprofile written by alloc-sampling.js and prints where the bytes were allocated:
// the functions that allocated most, then the totals by package or project file (each allocation
// charged to the nearest frame on its stack that is in dist/ or node_modules).
//
//   node bench/tools/alloc-top.js /tmp/alloc-<pid>.heapprofile [rows]

const fs = require('node:fs');

const [file, rowsArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/tools/alloc-top.js <file.heapprofile> [rows]');
  process.exit(2);
}
const rows = Number(rowsArg) || 30;
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));

const byFunction = new Map();
const byOwner = new Map();
let total = 0;
const add = (map, key, bytes) => map.set(key, (map.get(key) || 0) + bytes);

function ownerOf(url) {
  if (url.includes('/dist/')) return url.split('/dist/')[1];
  const match = /node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(url);
  return match ? match[1] : null;
}

// Iterative walk: call trees of a busy server are deep.
const stack = [{ node: profile.head, owner: null }];
while (stack.length) {
  const { node, owner: inherited } = stack.pop();
  const frame = node.callFrame;
  const owner = ownerOf(frame.url) || inherited;
  total += node.selfSize;
  add(byFunction, `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-3).join('/')}:${frame.lineNumber}`, node.selfSize);
  add(byOwner, owner || '(node core)', node.selfSize);
  for (const child of node.children) stack.push({ node: child, owner });
}

const print = (title, map) => {
  console.log(title);
  for (const [key, bytes] of [...map].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    console.log(`${((bytes / total) * 100).toFixed(1).padStart(5)} %  ${key}`);
  }
};
console.log(`sampled ${(total / 1e6).toFixed(0)} MB`);
print('\nby function', byFunction);
print('\nby package or project file', byOwner);
