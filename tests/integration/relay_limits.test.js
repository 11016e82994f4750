// relay_limits.test.js -- limits, on extra relay processes started with other
// settings than the stack's (tests/lib/relay-proc.js): the rate limit
// (ERR_RATE_LIMITED, then 1008 for sustained abuse), the handshake timeout,
// a slow reader closed with 4008 while a normal reader gets every message,
// and SIGTERM closing clients with 1001 and exiting cleanly.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { newSession, roomMessages } = require('../lib/sessions');
const { startRelay } = require('../lib/relay-proc');
const {
  ChatClient, RawConn, closeAll, uniqueRoom, newCid, isChat, assertChat, assertConsecutive, metrics, sleep,
} = require('../lib/chat-client');

const relays = [];
after(async () => { for (const r of relays) await r.stop(); });

test('rate limit (RELAY_RATE=2, RELAY_RATE_BURST=2): ERR_RATE_LIMITED, not stored; sustained abuse closes 1008; SIGTERM closes 1001', async (t) => {
  const relay = await startRelay({ RELAY_RATE: '2', RELAY_RATE_BURST: '2' });
  relays.push(relay);
  const via = { port: relay.port };
  const room = uniqueRoom('rate');
  const a = newSession();
  const ca = await ChatClient.join(a, { room, via, label: 'A' });
  const cb = await ChatClient.join(newSession(), { room, via, label: 'B' });
  t.after(() => closeAll(ca, cb));
  const cids = [newCid(), newCid(), newCid()];
  const from = ca.mark();
  for (const cid of cids) ca.send({ text: true, content: `burst ${cid}`, cid });
  const replies = [];
  for (const cid of cids) {
    replies.push(await ca.waitFor((f) => f.cid === cid && (f.type === 'user' || f.type === 'error'),
                                  { from, what: `reply to ${cid}` }));
  }
  assert.equal(replies[0].type, 'user');
  assert.equal(replies[1].type, 'user');
  assert.equal(replies[2].type, 'error', `third message at once: ${JSON.stringify(replies[2])}`);
  assert.equal(replies[2].error, 'ERR_RATE_LIMITED');
  assert.ok(ca.open, 'rate limiting alone does not close');
  await sleep(1100);   // tokens come back at 2/s
  const later = await ca.say('after a pause');
  assert.equal(later.id, replies[1].id + 1, 'the refused message used no number');
  await cb.waitFor((f) => isChat(f) && f.id === later.id, { what: 'the later message' });
  assert.ok(!cb.chats().some((f) => f.cid === cids[2]), 'B never saw the refused message');
  assert.deepEqual(roomMessages(room).map((m) => m.cid), [cids[0], cids[1], later.cid]);

  // sustained abuse: far more than RELAY_ABUSE_LIMIT (20) refused within 10 s
  const fromAbuse = ca.mark();
  for (let i = 0; i < 60 && ca.open; i++) ca.send({ text: true, content: `flood ${i}`, cid: newCid() });
  const { code } = await ca.waitClose(5000);
  assert.equal(code, 1008, 'sustained abuse closes with 1008');
  assert.ok(ca.frames.slice(fromAbuse).some((f) => f.error === 'ERR_RATE_LIMITED'), 'abuse was answered ERR_RATE_LIMITED first');
  // others keep chatting
  assertChat(await cb.say('B is fine'), { type: 'user' });

  // SIGTERM: clients are closed with 1001 and the relay exits by itself
  const exit = await relay.stop('SIGTERM', 10000);
  const closed = await cb.waitClose(5000);
  assert.equal(closed.code, 1001, 'shutdown closes clients with 1001');
  assert.deepEqual(exit, { code: 0, signal: null }, 'the relay exits 0 on SIGTERM');
});

test('a handshake that trickles in slowly is closed after RELAY_HANDSHAKE_TIMEOUT (2s)', async () => {
  const relay = await startRelay({ RELAY_HANDSHAKE_TIMEOUT: '2s' });
  relays.push(relay);
  const s = newSession();
  const conn = new RawConn(relay.port);
  await conn.connected;
  try {
    await conn.write(`GET /chat?X-WX-Skey=${encodeURIComponent(s.skey)} HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    const trickle = 'X-Slow-Header: ' + 'z'.repeat(60);   // one byte every 250 ms: 19 s in all
    let i = 0;
    for (; i < trickle.length && !conn.ended; i++) {
      await conn.write(trickle[i]);
      await sleep(250);
    }
    assert.ok(conn.ended, `still open after trickling ${i} bytes for ${(i * 0.25).toFixed(1)} s`);
    assert.ok(!conn.head || conn.head.status !== 101, 'never upgraded');
  } finally {
    conn.destroy();
  }
  // a normal client on that relay still chats
  const c = await ChatClient.join(s, { room: uniqueRoom('hs'), via: { port: relay.port }, label: 'normal' });
  try {
    assertChat(await c.say('quick handshake is fine'), { type: 'user', sender: s });
  } finally {
    c.terminate();
  }
  await relay.stop();
});

test('a client that stops reading is closed with 4008 (RELAY_QUEUE_MAX=64K); a normal reader gets every message', async (t) => {
  const relay = await startRelay({
    RELAY_QUEUE_MAX: '64K', RELAY_RATE: '100000', RELAY_RATE_BURST: '100000', RELAY_ABUSE_LIMIT: '100000',
  });
  relays.push(relay);
  const via = { port: relay.port };
  const room = uniqueRoom('slow');
  const slow = await ChatClient.join(newSession(), { room, via, label: 'slow' });
  const normal = await ChatClient.join(newSession(), { room, via, label: 'normal' });
  const f1 = await ChatClient.join(newSession(), { room, via, label: 'flooder1' });
  const f2 = await ChatClient.join(newSession(), { room, via, label: 'flooder2' });
  t.after(() => closeAll(slow, normal, f1, f2));
  slow.ws.pause();   // stop reading: the kernel buffers fill, then the relay's queue

  const body = 'F'.repeat(4000);
  const overflowed = async () => {
    try {
      const m = await metrics(relay.metricsPort);
      return (m.values['relay_closes_total{code="4008"}'] || 0) > 0 || (m.values.relay_queue_overflows_total || 0) > 0;
    } catch { return false; }
  };
  let sent = 0;
  const CAP = 4000;   // 16 MB: several times the socket buffers on loopback
  while (sent < CAP) {
    for (let k = 0; k < 50; k++) {
      for (const f of [f1, f2]) f.send({ text: true, content: `${sent}-${body}` });
      sent += 2;
    }
    await f1.waitCount((f) => f.type === 'user', sent / 2, { what: `acks of ${sent / 2}`, timeout: 20000 });
    await f2.waitCount((f) => f.type === 'user', sent / 2, { what: `acks of ${sent / 2}`, timeout: 20000 });
    if (await overflowed()) break;
  }
  // the normal reader gets every message, gap-free
  const got = await normal.waitCount(isChat, sent, { what: `all ${sent} messages`, timeout: 30000 });
  assertConsecutive(got.map((f) => f.id), 1, 'normal reader ids');
  assert.equal(normal.frames.filter((f) => f.type === 'error').length, 0);
  assert.ok(normal.open, 'the normal reader is still connected');
  // the slow one, once it reads again, finds a gap-free prefix and then close 4008
  slow.ws.resume();
  const { code } = await slow.waitClose(15000);
  assert.equal(code, 4008, `the slow reader is closed with 4008 (after ${sent} messages)`);
  const ids = slow.chats().map((f) => f.id);
  assert.ok(ids.length < sent, 'the slow reader did not get everything');
  assertConsecutive(ids, 1, 'what the slow reader got (no silently skipped message)');
  // it recovers with since (whole when the gap is within RELAY_CATCHUP_MAX)
  const lastSeen = ids.length ? ids[ids.length - 1] : 0;
  const back = await ChatClient.join(newSession(), { room, via, since: lastSeen, label: 'slow again' });
  t.after(() => closeAll(back));
  assert.equal(back.system.seq, sent);
  if (sent - lastSeen <= 1000) {
    assert.equal(back.system.recovered, true);
    await back.waitCount(isChat, sent - lastSeen, { what: 'the rest', timeout: 30000 });
    assertConsecutive([...ids, ...back.chats().map((f) => f.id)], 1, 'all ids after recovering');
  } else {
    assert.equal(back.system.recovered, false, `${sent - lastSeen} missing is over RELAY_CATCHUP_MAX`);
  }
  const m = await metrics(relay.metricsPort);
  assert.ok((m.values['relay_closes_total{code="4008"}'] || 0) >= 1, 'relay_closes_total{code="4008"} counts it');
  await relay.stop();
});

test('pings keep a live client; a silent one is closed after RELAY_IDLE_TIMEOUT; RELAY_MAX_CONNECTIONS answers 503; a stopping relay announces its clients gone', async (t) => {
  const relay = await startRelay({ RELAY_PING_INTERVAL: '1s', RELAY_IDLE_TIMEOUT: '3s', RELAY_MAX_CONNECTIONS: '3' });
  relays.push(relay);
  const via = { port: relay.port };
  const room = uniqueRoom('idle');
  const s = newSession();
  const onStack = await ChatClient.join(newSession(), { room, via: 1, label: 'Y@relay1' });
  const live = await ChatClient.join(s, { room, via, label: 'live' });
  let pings = 0;
  live.ws.on('ping', () => { pings += 1; });   // ws answers every ping with a pong
  t.after(() => closeAll(onStack, live));
  const silent = new RawConn(relay.port);
  await silent.connected;
  await silent.write(`GET /chat?X-WX-Skey=${encodeURIComponent(s.skey)}&room=${room} HTTP/1.1\r\n` +
                     'Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
                     'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  try {
    const head = await silent.response();
    assert.equal(head.status, 101);
    // the third connection fills RELAY_MAX_CONNECTIONS=3; a fourth upgrade is answered 503
    const third = await ChatClient.join(newSession(), { room, via, label: 'third' });
    await assert.rejects(ChatClient.open(newSession(), { room, via, label: 'fourth' }),
                         (e) => e.status === 503, 'over RELAY_MAX_CONNECTIONS: 503');
    third.close();
    await third.closed;
    // the silent one (never answers a ping) is closed within a few idle timeouts
    await silent.waitEnd(9000);
    assert.ok(silent.frames.some((f) => f.opcode === 9), 'the relay pinged the silent client');
  } finally {
    silent.destroy();
  }
  assert.ok(live.open, 'the client that answers pings is still connected');
  assert.ok(pings >= 2, `pings every RELAY_PING_INTERVAL (${pings} seen)`);
  assertChat(await live.say('still here'), { type: 'user', sender: s });
  // its clients leave when the relay stops: the stack's relay sees the count drop
  await onStack.waitFor((f) => f.type === 'system' && f.num === 2 || (isChat(f) && f.number === 2),
                        { what: 'the count with the extra relay\'s client' });
  const from = onStack.mark();
  await relay.stop();
  const ev = await onStack.waitFor((f) => f.type === 'system' && f.event === 'leave', { from, what: 'leave after the relay stopped' });
  assert.equal(ev.num, 1);
});
