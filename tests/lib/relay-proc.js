// relay-proc.js -- an extra relay process for tests that need other limits
// than the stack's relays (RELAY_RATE=2, RELAY_QUEUE_MAX=64K, a short
// handshake timeout, ...): started from $BIN_DIR/relay/relay on free loopback
// ports against the stack's database, ready once /healthz answers 200,
// stopped by PID (and killed when the test process exits, whatever happens).
'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');
const { env } = require('./harness');

const running = new Set();
process.on('exit', () => {
  for (const r of running) { try { process.kill(r.pid, 'SIGKILL'); } catch { /* gone */ } }
});

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function healthz(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
    return res.status;
  } catch {
    return 0;
  }
}

// Start a relay with extra environment; resolves to
// {pid, port, metricsPort, log, stop(), exited (Promise {code, signal})}.
// binDir: where relay/relay is (default the stack's BIN_DIR); unixSocket: a
// path the relay also listens on (RELAY_LISTEN=127.0.0.1:port,unix:path);
// ready: false resolves once the process is spawned, without waiting for
// /healthz (a relay whose database is not usable yet).
async function startRelay(extraEnv = {}, { readyTimeout = 20000, binDir = env.BIN_DIR, unixSocket, ready = true } = {}) {
  const port = await freePort();
  const metricsPort = await freePort();
  const log = path.join(env.STACK_DIR, 'log', `extra-relay-${port}.log`);
  fs.mkdirSync(path.dirname(log), { recursive: true });
  const fd = fs.openSync(log, 'a');
  const child = spawn(path.join(binDir, 'relay', 'relay'), [], {
    env: Object.assign({}, process.env, {
      DATABASE_URL: env.RELAY_DATABASE_URL,
      RELAY_LISTEN: `127.0.0.1:${port}` + (unixSocket ? `,unix:${unixSocket}` : ''),
      RELAY_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
    }, extraEnv),
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);
  const r = { pid: child.pid, port, metricsPort, log, exitInfo: null };
  r.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    r.exitInfo = { code, signal };
    running.delete(r);
    resolve(r.exitInfo);
  }));
  running.add(r);
  r.stop = (signal = 'SIGTERM', timeout = 10000) => stopRelay(r, signal, timeout);

  const deadline = Date.now() + readyTimeout;
  while (ready && (await healthz(port)) !== 200) {
    if (r.exitInfo || Date.now() > deadline) {
      await r.stop('SIGKILL');
      const tail = fs.readFileSync(log, 'utf8').split('\n').slice(-15).join('\n');
      throw new Error(`extra relay on :${port} not healthy (exit ${JSON.stringify(r.exitInfo)}); log:\n${tail}`);
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  return r;
}

// Signal the relay by PID, wait for it to exit (SIGKILL after timeout).
async function stopRelay(r, signal = 'SIGTERM', timeout = 10000) {
  if (r.exitInfo) return r.exitInfo;
  try { process.kill(r.pid, signal); } catch { /* already gone */ }
  let t;
  const killed = new Promise((resolve) => {
    t = setTimeout(() => { try { process.kill(r.pid, 'SIGKILL'); } catch { /* gone */ } resolve(); }, timeout);
  });
  await Promise.race([r.exited, killed]);
  clearTimeout(t);
  return r.exited;
}

module.exports = { startRelay, stopRelay, freePort, healthz };
