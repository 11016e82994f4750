// bench_tools.test.js -- the programs of `make bench` keep working:
// tools/bench/loadgen passes its self-test, and tools/bare-relay (the
// broadcaster that stores nothing, scenario (a)'s yardstick) speaks the
// chat protocol the load generator checks: a system frame on join, ids
// 1, 2, ... per room, "user" for the sender and "remote" for the others.
// A short loadgen chat run through it has every message delivered once;
// a request that is not an upgrade is closed; SIGTERM stops it with exit 0.
// Both programs come from BIN_DIR (the sanitizer build in `make test`).
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const WebSocket = require('ws');
const { env } = require('../lib/harness');
const { freePort } = require('../lib/relay-proc');

const LOADGEN = path.join(env.BIN_DIR, 'tools', 'bench', 'loadgen');
const BARE = path.join(env.BIN_DIR, 'tools', 'bare-relay', 'bare-relay');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-tools-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Start bare-relay on a free port; resolves once it accepts connections.
async function startBare() {
  const port = await freePort();
  const log = path.join(tmp, `bare-${port}.log`);
  const fd = fs.openSync(log, 'a');
  const child = spawn(BARE, [`127.0.0.1:${port}`, '30'], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 10000;
  for (;;) {
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`bare-relay did not listen: ${fs.readFileSync(log, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port, log, exited };
}

async function stopBare(b) {
  b.child.kill('SIGTERM');
  const t = setTimeout(() => b.child.kill('SIGKILL'), 10000);
  const info = await b.exited;
  clearTimeout(t);
  return info;
}

// A WebSocket client of `room` that collects every frame as JSON.
function join(port, room) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat?room=${room}`);
    ws.frames = [];
    ws.on('message', (d) => ws.frames.push(JSON.parse(d.toString())));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function frames(ws, n, timeout = 5000) {
  const deadline = Date.now() + timeout;
  while (ws.frames.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(ws.frames.length >= n, `expected ${n} frames, got ${JSON.stringify(ws.frames)}`);
  return ws.frames.slice(0, n);
}

test('loadgen passes its self-test', () => {
  const r = spawnSync(LOADGEN, ['selftest'], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /selftest: [1-9]\d* checks, 0 failed/);
});

test('bare-relay numbers each room\'s messages and tells the sender from the others', async () => {
  const b = await startBare();
  try {
    const a = await join(b.port, 'one');
    const c = await join(b.port, 'one');
    const other = await join(b.port, 'two');
    assert.deepEqual((await frames(a, 1))[0], { type: 'system', num: 1, room: 'one', seq: 0 });
    assert.deepEqual((await frames(c, 1))[0], { type: 'system', num: 2, room: 'one', seq: 0 });
    a.send(JSON.stringify({ text: true, content: 'first' }));
    c.send(JSON.stringify({ text: true, content: 'second' }));
    const [, a1, a2] = await frames(a, 3);
    const [, c1, c2] = await frames(c, 3);
    assert.deepEqual([a1.type, a1.id, a1.content], ['user', 1, 'first']);
    assert.deepEqual([c1.type, c1.id, c1.content], ['remote', 1, 'first']);
    assert.deepEqual([a2.type, a2.id, a2.content], ['remote', 2, 'second']);
    assert.deepEqual([c2.type, c2.id, c2.content], ['user', 2, 'second']);
    other.send(JSON.stringify({ text: true, content: 'elsewhere' }));
    const [, o1] = await frames(other, 2);
    assert.deepEqual([o1.type, o1.id, o1.room], ['user', 1, 'two']);
    a.send('not json');
    a.send(JSON.stringify({ text: true, content: 'third' }));
    const [, , , a3] = await frames(a, 4);
    assert.deepEqual([a3.id, a3.content], [3, 'third'], 'a frame that is not a message is skipped');
    for (const ws of [a, c, other]) ws.close();
  } finally {
    assert.deepEqual(await stopBare(b), { code: 0, signal: null });
  }
  assert.match(fs.readFileSync(b.log, 'utf8'), /bare-relay\[\d+\] info stopped/);
});

test('bare-relay closes a request that is not a WebSocket upgrade', async () => {
  const b = await startBare();
  try {
    const answer = await new Promise((resolve, reject) => {
      const s = net.connect(b.port, '127.0.0.1', () => s.write('GET /chat HTTP/1.1\r\nHost: x\r\n\r\n'));
      let got = '';
      s.on('data', (d) => { got += d.toString('latin1'); });
      s.once('close', () => resolve(got));
      s.once('error', reject);
      s.setTimeout(5000, () => { s.destroy(); reject(new Error('not closed')); });
    });
    assert.equal(answer, '');
  } finally {
    assert.deepEqual(await stopBare(b), { code: 0, signal: null });
  }
});

// Run `loadgen chat` against a fresh bare-relay (20 connections in 2 rooms)
// with the given load options; returns its JSON report.
async function chatThroughBare(load) {
  const b = await startBare();
  const sessions = path.join(tmp, 'sessions');
  fs.writeFileSync(sessions, Array.from({ length: 20 }, (_, i) => `id${i} skey${i}\n`).join(''));
  try {
    const r = spawnSync(LOADGEN, ['chat', '--label', 'test', '--addr', `127.0.0.1:${b.port}`,
      '--sessions', sessions, '--conns', '20', '--rooms', '2', '--room-prefix', 'lg',
      ...load, '--step-seconds', '1', '--drain-seconds', '1',
      '--all-steps', '--p99-limit-ms', '100000', '--min-ratio', '0.99',
      '--relay-pid', String(b.child.pid)], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  } finally {
    assert.deepEqual(await stopBare(b), { code: 0, signal: null });
  }
}

function assertNothingLost(report, steps) {
  assert.equal(report.failed, 0);
  assert.equal(report.lost_total, 0);
  assert.equal(report.duplicated_total, 0);
  assert.equal(report.steps.length, steps);
  for (const s of report.steps) {
    assert.ok(s.ok, JSON.stringify(s));
    assert.ok(s.sent > 0);
    assert.equal(s.delivered, s.expected, JSON.stringify(s));
  }
}

test('a short loadgen chat run through bare-relay delivers every message once', async () => {
  const report = await chatThroughBare(['--steps', '2,4', '--rate', '10']);
  assertNothingLost(report, 2);
});

// Scenario (e)'s closed loop: each sender keeps `window` messages
// unacknowledged and sends the next ones as echoes arrive, several echoes'
// worth in one write.
test('a closed-loop loadgen run keeps its window full and loses nothing', async () => {
  const report = await chatThroughBare(['--steps', '10', '--rate', '0', '--window', '4']);
  assertNothingLost(report, 1);
  const s = report.steps[0];
  assert.equal(s.acked, s.sent, JSON.stringify(s));
  assert.ok(s.sent > 10 * 4 * 20, `the loop went round many times: ${s.sent} sent`);
  // Disk stalls of the step, from the kernel's pressure counters.
  if (fs.existsSync('/proc/pressure/io')) {
    assert.equal(typeof s.io_stall_ms, 'number', JSON.stringify(s));
    assert.ok(s.io_stall_ms >= 0 && s.io_stall_ms <= 1000 * (s.seconds + 10), JSON.stringify(s));
  }
});

// The published table (tools/bench/results-table.jq, through
// `tools/bench.sh --render`): ids skipped and messages not yet received
// when the count was taken are told apart in the Lost column.
test('the results table names a backlog apart from skipped ids', () => {
  const out = fs.mkdtempSync(path.join(tmp, 'render-'));
  const step = (senders, ok) => ({
    senders, ok, rate_per_sender: 10, deliveries_per_s: senders * 10000, messages_per_s: senders * 10,
    p50_ms: 10, p99_ms: ok ? 30 : 300, max_ms: 400, delivered_share: ok ? 1 : 0.1, client_cpu: 0.2,
    fail_reason: ok ? undefined : 'deliveries below the minimum share of expected', lost: 0,
  });
  const scenario = (lost, missing) => ({
    steps: [step(100, true), step(200, false)], last_good: step(100, true),
    lost_total: lost, missing_after_final_drain: missing, duplicated_total: 0,
    failures: { connect: 0, handshake: 0, invalid_session: 0, timeout: 0, protocol: 0, closed: 0 },
  });
  fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify({
    date: '2026-01-01T00:00:00Z', commit: 'abc1234',
    machine: { cores: 2, cpu_model: 'test', kernel: 'test', loadavg_at_start: '0 0 0' },
    scenarios: { a: scenario(0, 0), bare: scenario(1234567, 1234560), b: scenario(3, 0) },
  }));
  const script = path.join(__dirname, '..', '..', 'tools', 'bench.sh');
  const r = spawnSync(script, ['--render'], {
    encoding: 'utf8', timeout: 30000, env: { ...process.env, BENCH_OUT: out },
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
  assert.equal(md, r.stdout);
  const row = (id) => md.split('\n').find((l) => l.startsWith(`| ${id} |`)).split(' | ');
  assert.equal(row('a')[5], '0 / 0');
  assert.equal(row('bare')[5], '1,234,567 (7 skipped, 1,234,560 not received 5 s after the last step) / 0');
  assert.equal(row('b')[5], '3 / 0');
  assert.match(md, /\| d \| logins \| not run \|/);
});
