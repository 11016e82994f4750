// harness.js -- what every Node test file needs to talk to the stack that
// tests/run.sh started (tools/stack.sh): its addresses, SQL through psql,
// HTTP through nginx, and codes from the WeChat stand-in.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');

// The variables tools/stack.sh wrote to $STACK_DIR/env.
function loadEnv() {
  const dir = process.env.STACK_DIR;
  if (!dir) throw new Error('STACK_DIR is not set: run the tests through tests/run.sh');
  const env = {};
  for (const line of fs.readFileSync(path.join(dir, 'env'), 'utf8').split('\n')) {
    const m = line.match(/^export (\w+)='(.*)'$/);
    if (m) env[m[1]] = m[2];
  }
  return env;
}
const env = loadEnv();

// Run SQL as `role` ('admin', 'login', 'relay' or 'dba'); psql variables
// (:'name') carry the values, so nothing is spliced into the SQL text.
// Returns rows as arrays of strings (NULL as null).
function sql(query, vars = {}, role = 'admin') {
  const url = env[`${role.toUpperCase()}_DATABASE_URL`];
  const args = [url, '-X', '-q', '-tA', '-F', '\x1f', '-P', 'null=\x1e', '-v', 'ON_ERROR_STOP=1'];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  const out = execFileSync('psql', args, { input: query, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('\x1f').map((c) => (c === '\x1e' ? null : c)));
}

// tools/stack.sh COMMAND STACK_DIR ARGS... (pg-stop, svc-start relay1, ...)
function stack(command, ...args) {
  return execFileSync(path.join(ROOT, 'tools', 'stack.sh'), [command, env.STACK_DIR, ...args], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
}

// An HTTP request through nginx: {status, headers, text, json}.
async function http(method, urlPath, { headers = {}, body, base = env.BASE_URL } = {}) {
  const res = await fetch(base + urlPath, { method, headers, body });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

// What wx.login() + wx.getUserInfo() give a mini-program for `user`
// (see tools/wx-standin/main.c for the options).
async function wxCode(user, options = {}) {
  const q = new URLSearchParams(Object.assign({ user }, options));
  const res = await http('GET', `/standin/code?${q}`);
  if (res.status !== 200) throw new Error(`stand-in: ${res.status} ${res.text}`);
  return res.json;
}

const MAGIC = 'F2C224D4-2BCE-4C64-AF9F-A6D872000D1A';

module.exports = { ROOT, env, sql, stack, http, wxCode, MAGIC };
