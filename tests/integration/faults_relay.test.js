// faults_relay.test.js -- relays killed with SIGKILL (no close frames, no
// presence goodbye, a batch possibly in flight) while clients chat through
// nginx: the clients of the dead relay reconnect by themselves with `since`
// (nginx sends them to the living relay), the restarted relay serves again,
// every acknowledged message is in the table with gap-free ids, messages
// resent with their cid are stored once, and every client's view equals the
// table. With every relay dead, nginx answers an upgrade on /chat with a
// 502 JSON body at once (never an HTML page, never a hang).
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { env, stack, MAGIC } = require('../lib/harness');
const { newSession, roomMessages, roomRow } = require('../lib/sessions');
const { chatBase, uniqueRoom, relayPorts, RawConn, ChatClient, closeAll } = require('../lib/chat-client');
const { SteadyClient, drive, settle, checkViews, totals, stackAsync, waitStatus } = require('../lib/steady-client');

const healthz = (port) => `http://127.0.0.1:${port}/healthz`;

// A pid file of the stack exists while the service runs (stack.sh removes it on svc-stop).
const relayNames = () => relayPorts().map((_, i) => `relay${i + 1}`);

async function restartIfStopped(stopped) {
  for (const name of stopped) stack('svc-start', name);
  for (const port of relayPorts()) {
    assert.equal(await waitStatus(healthz(port), 200, 30000), 200, `relay :${port} healthy again`);
  }
}

// Clients through nginx plus one straight on each relay (so the dead relay
// surely had clients, and one client must wait for that very relay to return).
function makeClients(room, tag) {
  const clients = Array.from({ length: 6 }, (_, i) => new SteadyClient({
    base: chatBase('nginx'), session: newSession(), room, label: `${tag}${i}`,
  }));
  relayPorts().forEach((_, i) => clients.push(new SteadyClient({
    base: chatBase(i + 1), session: newSession(), room, label: `${tag}-direct${i + 1}`,
  })));
  return clients;
}

const ackCount = (clients) => clients.reduce((n, c) => n + c.acks.size, 0);

async function finalCheck(t, clients, room) {
  const before = ackCount(clients);
  assert.ok(await drive(clients, { timeout: 20000, until: () => ackCount(clients) >= before + clients.length }),
            'messages are acknowledged after the restart');
  assert.ok(await settle(clients, () => ({ [room]: roomRow(room).lastSeq })),
            `clients settle: ${JSON.stringify(clients.map((c) => ({ l: c.label, c: c.connected, p: c.pending.size, last: c.lastId })))}`);
  t.diagnostic(`acks ${ackCount(clients)}; refusals ${JSON.stringify(totals(clients, 'refusals'))}; ` +
               `closes ${JSON.stringify(totals(clients, 'closes'))}; failed opens ${JSON.stringify(totals(clients, 'openFailures'))}`);
  const rows = roomMessages(room);
  assert.deepEqual(checkViews(clients, { [room]: rows }), []);
  assert.equal(rows.length, clients.reduce((n, c) => n + c.sentCount, 0), 'every message sent is stored once');
  for (const c of clients) assert.ok(c.connected, `${c.label} is connected again`);
}

test('relay 1 killed with SIGKILL while clients send: they reconnect with since, nothing acknowledged is lost, no duplicate', { timeout: 120000 }, async (t) => {
  const room = uniqueRoom('relaykill');
  const clients = makeClients(room, 'rk');
  t.after(() => clients.forEach((c) => c.close()));
  await Promise.all(clients.map((c) => c.connect()));
  assert.ok(await drive(clients, { timeout: 15000, until: () => clients.every((c) => c.acks.size >= 3) }),
            'every client gets acknowledgements before the fault');
  const stopped = [];
  try {
    const kill = stackAsync(env.STACK_DIR, 'svc-stop', 'relay1', 'KILL');
    stopped.push('relay1');
    kill.then(() => { kill.done = true; }, () => { kill.done = true; });
    await drive(clients, { timeout: 30000, until: () => kill.done });
    await kill;
    // the clients of relay 1 lost their socket without a close frame (1006)
    assert.ok(await drive(clients, { timeout: 10000, until: () => (totals(clients, 'closes')[1006] || 0) > 0 }),
              `relay 1's clients saw their connection drop: ${JSON.stringify(totals(clients, 'closes'))}`);
    // those that came through nginx are back (on relay 2) and chatting while relay 1 is down
    const viaNginx = clients.filter((c) => c.base === chatBase('nginx'));
    const acked = ackCount(clients);
    assert.ok(await drive(clients, {
      timeout: 20000, until: () => viaNginx.every((c) => c.connected) && ackCount(clients) >= acked + viaNginx.length,
    }), `clients through nginx reconnect while relay 1 is down: ${JSON.stringify(viaNginx.map((c) => c.connected))}`);
    const direct1 = clients.find((c) => c.label === 'rk-direct1');
    assert.equal(direct1.connected, false, 'the client of relay 1 waits for it');
  } finally {
    await restartIfStopped(stopped);
  }
  await finalCheck(t, clients, room);
});

test('every relay killed: /chat through nginx answers 502 JSON at once; clients come back by themselves', { timeout: 120000 }, async (t) => {
  const room = uniqueRoom('allrelays');
  const clients = makeClients(room, 'ar');
  t.after(() => clients.forEach((c) => c.close()));
  await Promise.all(clients.map((c) => c.connect()));
  assert.ok(await drive(clients, { timeout: 15000, until: () => clients.every((c) => c.acks.size >= 2) }));
  const stopped = [];
  try {
    for (const name of relayNames()) {
      stopped.push(name);
      await stackAsync(env.STACK_DIR, 'svc-stop', name, 'KILL');
    }
    const port = Number(new URL(env.BASE_URL).port);
    const upgrade = `GET /chat?room=${room} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    for (let i = 0; i < 3; i++) {
      const conn = new RawConn(port);
      await conn.connected;
      await conn.write(upgrade);
      const head = await conn.response(10000);
      conn.destroy();
      assert.equal(head.status, 502, `upgrade with every relay down: ${head.text}`);
      assert.match(head.headers['content-type'] || '', /^application\/json/, head.text);
      const body = await fetch(`${env.BASE_URL}/chat?room=${room}`, { signal: AbortSignal.timeout(10000) });
      assert.equal(body.status, 502);
      assert.match(body.headers.get('content-type') || '', /^application\/json/);
      const json = await body.json();
      assert.equal(json[MAGIC], 1);
      assert.equal(json.error, 'ERR_BAD_GATEWAY');
      assert.equal(typeof json.message, 'string');
    }
    // the clients keep trying and are refused cleanly meanwhile
    await drive(clients, { timeout: 1500 });
    assert.ok(clients.every((c) => !c.connected), 'nobody is connected while every relay is down');
    assert.ok((totals(clients, 'openFailures')['http 502'] || 0) > 0,
              `reconnects through nginx get 502: ${JSON.stringify(totals(clients, 'openFailures'))}`);
  } finally {
    await restartIfStopped(stopped);
  }
  // once the relays answer again, nginx sends every new client to them at
  // once (no passive "failed" mark held by a long-lived WebSocket trial)
  const fresh = [];
  try {
    for (let i = 0; i < 6; i++) fresh.push(await ChatClient.join(newSession(), { room, label: `fresh${i}` }));
  } finally {
    closeAll(fresh);
  }
  await finalCheck(t, clients, room);
});
