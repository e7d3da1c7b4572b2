#!/usr/bin/env node
'use strict';
/*
 * A destination to try Omnihub with: prints every delivery it receives and answers 200, or 503
 * while it is "broken". `curl -X POST localhost:4000/break` breaks it, `curl -X POST localhost:4000/fix`
 * fixes it. Usage: node docs/examples/sink.js [port]
 */
const http = require('node:http');

const port = Number(process.argv[2] || 4000);
let broken = false;

http
  .createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (req.url === '/break' || req.url === '/fix') {
        broken = req.url === '/break';
        res.end(`destination is now ${broken ? 'broken (503)' : 'fixed (200)'}\n`);
        return;
      }
      const event = body ? JSON.parse(body) : {};
      console.log(`${broken ? '503' : '200'} ${event.type} id=${event.id} Idempotency-Key=${req.headers['idempotency-key']}`);
      res.writeHead(broken ? 503 : 200, { 'content-type': 'application/json' });
      res.end(broken ? '{"error":"down for maintenance"}' : '{"ok":true}');
    });
  })
  .listen(port, '127.0.0.1', () => console.log(`sink listening on http://127.0.0.1:${port}`));
