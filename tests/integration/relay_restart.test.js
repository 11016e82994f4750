// relay_restart.test.js -- the relays across restarts of what they depend on:
// PostgreSQL stopped (messages get ERR_UNAVAILABLE and are not acknowledged,
// /healthz 503; the relays reconnect by themselves and nothing acknowledged
// is missing), a relay stopped with SIGTERM (its clients closed with
// 1001; after its restart `since` recovers everything missed), and a relay
// stopped while all its clients drop at the same moment (a clean exit).
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { execFile } = require('child_process');
const { env, ROOT, stack, sql } = require('../lib/harness');
const { newSession, roomMessages } = require('../lib/sessions');
const { healthz, startRelay } = require('../lib/relay-proc');
const {
  ChatClient, closeAll, uniqueRoom, newCid, isChat, assertChat, assertConsecutive, relayPorts, sleep,
} = require('../lib/chat-client');

// tools/stack.sh without blocking the event loop (clients must answer the
// relay's close handshake while it shuts down).
function stackAsync(...args) {
  return new Promise((resolve, reject) => {
    execFile(path.join(ROOT, 'tools', 'stack.sh'), [args[0], env.STACK_DIR, ...args.slice(1)],
             { timeout: 60000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`))
                                                                : resolve({ stdout, stderr })));
  });
}

// Poll a relay's /healthz until it answers `want` (bounded).
async function waitHealth(port, want, timeout = 20000) {
  const deadline = Date.now() + timeout;
  let got;
  while ((got = await healthz(port)) !== want) {
    if (Date.now() > deadline) throw new Error(`relay :${port} /healthz is ${got}, not ${want}, after ${timeout} ms`);
    await sleep(200);
  }
}

test('PostgreSQL stopped: ERR_UNAVAILABLE, nothing acknowledged is lost, the relays reconnect by themselves', async (t) => {
  const room = uniqueRoom('pgdown');
  const a = newSession();
  const b = newSession();
  const ca = await ChatClient.join(a, { room, via: 1, label: 'A@relay1' });
  const cb = await ChatClient.join(b, { room, via: 2, label: 'B@relay2' });
  t.after(() => closeAll(ca, cb));
  const acked = [await ca.say('before the outage')];
  const refused = [];   // the steady sender's refusals (resent after the outage)
  let duringOutage = null;
  // a steady sender on relay 2 throughout (about 5/s)
  let stop = false;
  const steady = (async () => {
    while (!stop) {
      const cid = newCid();
      const r = await cb.request({ text: true, content: `steady ${cid}`, cid }, { timeout: 15000 });
      (r.type === 'user' ? acked : refused).push(r);
      if (r.type === 'error') assert.equal(r.error, 'ERR_UNAVAILABLE', JSON.stringify(r));
      await sleep(200);
    }
  })();
  steady.catch(() => {});   // awaited below; no unhandled rejection meanwhile
  await sleep(300);
  const ports = relayPorts();
  let stopped = false;
  try {
    stack('pg-stop');
    stopped = true;
    await waitHealth(ports[0], 503, 10000);
    const cid = newCid();
    const r = await ca.request({ text: true, content: 'during the outage', cid }, { timeout: 15000 });
    assert.equal(r.type, 'error', `sent while the database is down: ${JSON.stringify(r)}`);
    assert.equal(r.error, 'ERR_UNAVAILABLE');
    assert.equal(r.message, 'message not saved: database unavailable');
    assert.equal(r.cid, cid);
    duringOutage = r;
    assert.ok(ca.open && cb.open, 'clients stay connected while the database is down');
    await sleep(500);
  } finally {
    if (stopped) stack('pg-start');
  }
  for (const p of ports) await waitHealth(p, 200, 30000);
  stop = true;
  await steady;
  // new messages flow again, both ways across the relays (LISTEN reconnected too)
  const after1 = await ca.say('after the outage', { timeout: 10000 });
  acked.push(after1);
  const seenB = await cb.waitFor((f) => isChat(f) && f.id === after1.id, { what: 'A\'s message on relay 2', timeout: 10000 });
  assertChat(seenB, { type: 'remote', sender: a });
  const after2 = await cb.say('B after the outage', { timeout: 10000 });
  acked.push(after2);
  await ca.waitFor((f) => isChat(f) && f.id === after2.id, { what: 'B\'s message on relay 1', timeout: 10000 });

  const rows = roomMessages(room);
  assertConsecutive(rows.map((m) => m.seq), 1, 'table seqs');
  for (const ack of acked) {
    assert.ok(rows.some((m) => m.seq === ack.id && m.cid === ack.cid), `acknowledged ${ack.cid} (id ${ack.id}) is stored`);
  }
  assert.ok(!rows.some((m) => m.cid === duringOutage.cid), 'the message refused during the outage is not stored');
  // the client's retry story: resending a refused message with its cid stores it exactly once
  for (const r of refused) {
    const again = await cb.say(`steady ${r.cid}`, { cid: r.cid });
    assert.ok(again.id > 0);
    await sleep(150);
  }
  const final = roomMessages(room);
  for (const r of refused) assert.equal(final.filter((m) => m.cid === r.cid).length, 1, `${r.cid} stored once`);
  assertConsecutive(final.map((m) => m.seq), 1, 'table seqs after the retries');
});

test('relay 1 stopped with SIGTERM: its clients get 1001; restarted, since recovers everything missed', async (t) => {
  const room = uniqueRoom('relaydown');
  const r = newSession();
  const s = newSession();
  const c1 = await ChatClient.join(r, { room, via: 1, label: 'R@relay1' });
  const c2 = await ChatClient.join(s, { room, via: 2, label: 'S@relay2' });
  let back;
  let viaNginx;
  t.after(() => closeAll(c1, c2, back, viaNginx));
  for (let i = 0; i < 3; i++) await c2.say(`before ${i}`);
  await c1.waitCount(isChat, 3, { what: '3 messages' });
  let stopped = false;
  try {
    const out = await stackAsync('svc-stop', 'relay1');
    stopped = true;
    assert.ok(!/killing/.test(out.stderr), `relay 1 exits on SIGTERM by itself: ${out.stderr}`);
    const { code } = await c1.waitClose(5000);
    assert.equal(code, 1001, 'shutdown closes with 1001');
    for (let i = 0; i < 5; i++) await c2.say(`while relay 1 is down ${i}`);
    // nginx sends new clients to the relay that is up
    viaNginx = await ChatClient.join(newSession(), { room, label: 'via nginx' });
    assert.equal(viaNginx.system.seq, 8);
  } finally {
    if (stopped) stack('svc-start', 'relay1');
  }
  await waitHealth(relayPorts()[0], 200, 30000);
  const seen = c1.chats();
  const last = seen[seen.length - 1].id;
  back = await ChatClient.join(r, { room, via: 1, since: last, epoch: c1.system.epoch, label: 'R back@relay1' });
  assert.equal(back.system.recovered, true);
  await back.waitCount(isChat, 8 - last, { what: 'what was missed' });
  const live = await c2.say('after the restart');
  await back.waitFor((f) => isChat(f) && f.id === live.id, { what: 'live message on the restarted relay' });
  const union = [...seen, ...back.chats()];
  const rows = roomMessages(room);
  assert.deepEqual(union.map((f) => f.id), rows.map((m) => m.seq), 'no duplicate, no gap');
  assert.deepEqual(union.map((f) => f.content), rows.map((m) => m.content));
});

// `make run`'s Ctrl-C signals the relay and nginx together: the relay's
// stop (every connection closed with 1001) then meets the clients' own
// closes in the same turns. An extra relay with 100 clients gets SIGTERM
// while every client drops at once; it must exit with status 0 (an ASan
// report exits with 23) and log that it is exiting.
test('SIGTERM while every client drops at the same moment: the relay exits cleanly', { timeout: 60000 }, async () => {
  const N = 100;
  const tag = `stop-${process.pid}-${Date.now()}`;
  const rows = sql(`WITH u AS (INSERT INTO users (openid, nickname)
                               SELECT :'tag' || '-' || g, 'stop ' || g FROM generate_series(1, ${N}) g
                               RETURNING id),
                        k AS (SELECT id AS uid, md5(random()::text || id) AS sid,
                                     md5(random()::text) || md5(random()::text) AS skey FROM u)
                   INSERT INTO sessions (id, skey_hash, user_id, wx_session_key, expires_at)
                   SELECT sid, sha256(convert_to(skey, 'UTF8')), uid, 'test', now() + interval '1 hour' FROM k
                   RETURNING id, (SELECT skey FROM k WHERE k.sid = sessions.id)`, { tag });
  assert.equal(rows.length, N);
  const relay = await startRelay();
  const clients = [];
  try {
    const room = uniqueRoom('stop');
    for (const [id, skey] of rows) {
      clients.push(await ChatClient.join({ id, skey }, { via: { port: relay.port }, room }));
    }
    process.kill(relay.pid, 'SIGTERM');
    closeAll(clients);
    let timer;
    const exit = await Promise.race([relay.exited,
      new Promise((resolve) => { timer = setTimeout(() => resolve('still running 20 s after SIGTERM'), 20000); })]);
    clearTimeout(timer);
    assert.deepEqual(exit, { code: 0, signal: null });
    const log = require('fs').readFileSync(relay.log, 'utf8');
    assert.match(log, / info exiting$/m);
  } finally {
    closeAll(clients);
    await relay.stop('SIGKILL');
  }
});
