// relay_listen.test.js -- RELAY_LISTEN with a Unix-domain socket beside the
// TCP port (how nginx reaches the relays in tools/stack.sh): chat works over
// both, the socket is connectable by every local user (nginx's workers run
// unprivileged), a socket file left by a killed relay is replaced, and any
// other file at that path stops the relay with a clear error.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { ChatClient, closeAll, uniqueRoom } = require('../lib/chat-client');
const { newSession } = require('../lib/sessions');
const { startRelay } = require('../lib/relay-proc');
const { env } = require('../lib/harness');

const sockDir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-sock-'));
after(() => fs.rmSync(sockDir, { recursive: true, force: true }));

function socketPath() {
  return path.join(sockDir, `r-${crypto.randomBytes(3).toString('hex')}.sock`);
}

test('a relay on TCP and a Unix socket: one room across both', async () => {
  const sock = socketPath();
  const relay = await startRelay({}, { unixSocket: sock });
  const room = uniqueRoom('unix');
  let a, b;
  try {
    assert.equal(fs.statSync(sock).mode & 0o777, 0o666, 'socket mode');
    a = await ChatClient.join(newSession(), { via: { socket: sock }, room, label: 'unix' });
    b = await ChatClient.join(newSession(), { via: relay, room, label: 'tcp' });
    a.send({ text: true, content: 'over the unix socket', cid: 'u1' });
    const ack = await a.waitFor((f) => f.cid === 'u1', { what: 'the echo' });
    assert.equal(ack.type, 'user');
    const seen = await b.waitFor((f) => f.id === ack.id, { what: 'the message on TCP' });
    assert.equal(seen.type, 'remote');
    assert.equal(seen.content, 'over the unix socket');
  } finally {
    closeAll(a, b);
    await relay.stop();
  }
});

test('a socket file left by a killed relay is replaced; a live one or a regular file is refused', async () => {
  const sock = socketPath();
  const first = await startRelay({}, { unixSocket: sock });
  await assert.rejects(startRelay({}, { unixSocket: sock, readyTimeout: 5000 }),
    /in use by a running process/);
  const still = await ChatClient.join(newSession(), { via: { socket: sock }, room: uniqueRoom('live') });
  closeAll(still);
  await first.stop('SIGKILL');
  assert.ok(fs.statSync(sock).isSocket(), 'the killed relay left its socket file');
  const second = await startRelay({}, { unixSocket: sock });
  let c;
  try {
    c = await ChatClient.join(newSession(), { via: { socket: sock }, room: uniqueRoom('stale') });
    assert.equal(c.system.type, 'system');
  } finally {
    closeAll(c);
    await second.stop();
  }

  const file = socketPath();
  fs.writeFileSync(file, 'not a socket');
  await assert.rejects(startRelay({}, { unixSocket: file, readyTimeout: 5000 }),
    /exists and is not a socket/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'not a socket', 'the file is left alone');
});

test('the stack puts nginx in front of the relays on Unix sockets (TCP when the path is too long)', () => {
  const ports = env.RELAY_PORTS.split(' ').filter(Boolean);
  const socks = (env.RELAY_SOCKETS || '').split(' ').filter(Boolean);
  const conf = fs.readFileSync(path.join(env.STACK_DIR, 'nginx', 'nginx.conf'), 'utf8');
  // tools/stack.sh's socket_path(): DIR/sock/NAME.sock when at most 100 bytes
  const longest = path.join(env.STACK_DIR, 'sock', `relay${ports.length}.sock`);
  if (longest.length > 100) {
    assert.equal(socks.length, 0);
    for (const p of ports) assert.ok(conf.includes(`server 127.0.0.1:${p} max_fails=0;`), `nginx uses :${p}`);
    return;
  }
  assert.equal(socks.length, ports.length);
  for (const s of socks) assert.ok(fs.statSync(s).isSocket(), `${s} is a socket`);
  for (const s of socks) assert.ok(conf.includes(`server unix:${s} max_fails=0;`), `nginx uses ${s}`);
  assert.ok(conf.includes(`server unix:${env.FCGI_ADDR};`), 'nginx reaches login-fcgi on its socket');
});
