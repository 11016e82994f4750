// relay_batching.test.js -- RELAY_BATCH_DELAY on extra relays: a writer
// sends at most one batch per delay, so after a batch the messages that
// come within the delay wait and share the next transaction (one
// created_at in PostgreSQL); a quiet writer posts at once; 64 waiting
// messages go at once; with the delay off nothing is held. A writer over
// 800 messages/s waits RELAY_BATCH_DELAY_BUSY instead, until a pause. A
// batch of several senders without cids gets each message's number and
// name right (the short answer of migration 027).
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { sql } = require('../lib/harness');
const { newSession } = require('../lib/sessions');
const { startRelay } = require('../lib/relay-proc');
const { ChatClient, closeAll, uniqueRoom, newCid, sleep } = require('../lib/chat-client');

const relays = [];
after(async () => { for (const r of relays) await r.stop(); });

// The transaction start time (created_at) of each stored message, by cid.
function createdAt(room) {
  const rows = sql(`SELECT m.cid, m.created_at FROM messages m JOIN rooms r ON r.id = m.room_id
                    WHERE r.name = :'room'`, { room });
  return new Map(rows);
}

test('RELAY_BATCH_DELAY=1s: quiet writer at once, then one transaction for what comes within the delay, 64 at once', async (t) => {
  const relay = await startRelay({ RELAY_BATCH_DELAY: '1s', RELAY_RATE: '1000', RELAY_RATE_BURST: '1000' });
  relays.push(relay);
  const via = { port: relay.port };
  const room = uniqueRoom('batch');
  const a = await ChatClient.join(newSession(), { room, via, label: 'A' });
  const b = await ChatClient.join(newSession(), { room, via, label: 'B' });
  t.after(() => closeAll(a, b));

  // The writer has been quiet: the first message is posted at once.
  const t0 = Date.now();
  const m1 = await a.say('first');
  const quiet = Date.now() - t0;
  assert.equal(m1.type, 'user');
  assert.ok(quiet < 900, `the first message waited ${quiet} ms`);

  // Two senders 200 ms apart, within the delay after that batch: held,
  // then one transaction for both.
  const second = b.say('second');
  await sleep(200);
  const third = a.say('third');
  const [m2, m3] = await Promise.all([second, third]);
  assert.deepEqual([m2.type, m3.type, m2.id, m3.id], ['user', 'user', m1.id + 1, m1.id + 2]);
  const at = createdAt(room);
  assert.equal(at.get(m2.cid), at.get(m3.cid), 'the held messages share one transaction');
  assert.notEqual(at.get(m1.cid), at.get(m2.cid), 'the first message had its own');

  // 64 waiting messages are not held, although a batch was just sent.
  const cids = Array.from({ length: 64 }, () => newCid());
  const from = a.mark();
  const t1 = Date.now();
  for (const cid of cids) a.send({ text: true, content: `burst ${cid}`, cid });
  await a.waitFor((f) => f.type === 'user' && f.cid === cids[63], { from, what: 'the last echo of the burst' });
  const burst = Date.now() - t1;
  assert.ok(burst < 900, `64 messages waited ${burst} ms`);
  const ids = a.frames.slice(from).filter((f) => f.type === 'user' && cids.includes(f.cid)).map((f) => f.id);
  assert.deepEqual(ids, cids.map((_, i) => m3.id + 1 + i), 'every message of the burst, in order');
});

// Messages without a cid (as the real clients send them) take
// chat_post_batch_compact's fast path: its answer has a row per room and per
// sender, from which the relay numbers each message (migration 027).
test('a batch of several senders without cids: ids dense, each sender\'s in its order, each with its own name', async (t) => {
  const relay = await startRelay({ RELAY_BATCH_DELAY: '1s', RELAY_RATE: '1000', RELAY_RATE_BURST: '1000' });
  relays.push(relay);
  const via = { port: relay.port };
  const room = uniqueRoom('fast'), other = uniqueRoom('fast');
  const sa = newSession(), sb = newSession(), sc = newSession();
  const a = await ChatClient.join(sa, { room, via, label: 'A' });
  const b = await ChatClient.join(sb, { room, via, label: 'B' });
  const c = await ChatClient.join(sc, { room: other, via, label: 'C' });
  const w = await ChatClient.join(newSession(), { room, via, label: 'W' });
  t.after(() => closeAll(a, b, c, w));

  const m1 = await a.say('first'); // posted at once: the next batch waits out the delay
  const sends = [[a, 'a1'], [b, 'b1'], [c, 'c1'], [a, 'a2'], [b, 'b2'], [c, 'c2'], [b, 'b3']];
  for (const [client, content] of sends) client.send({ text: true, content });
  const ours = /^[ab]\d$/;
  const seen = await w.waitCount((f) => f.type === 'remote' && ours.test(f.content), 5);
  // A's and B's sockets are read in either order; each one's in order.
  assert.deepEqual(seen.map((f) => f.id), [1, 2, 3, 4, 5].map((k) => m1.id + k), 'ids dense, in order');
  const who = { a: sa, b: sb };
  for (const f of seen) {
    const s = who[f.content[0]];
    assert.deepEqual([f.uid, f.nickName, f.avatarUrl], [s.uid, s.nickName, s.avatarUrl], `sender of ${f.content}`);
  }
  const from = (p) => seen.filter((f) => f.content[0] === p);
  assert.deepEqual(from('a').map((f) => f.content), ['a1', 'a2']);
  assert.deepEqual(from('b').map((f) => f.content), ['b1', 'b2', 'b3']);
  const echoes = await c.waitCount((f) => f.type === 'user' && /^c\d$/.test(f.content), 2);
  assert.deepEqual(echoes.map((f) => [f.id, f.content, f.nickName]), [[1, 'c1', sc.nickName], [2, 'c2', sc.nickName]]);
  const own = await b.waitCount((f) => f.type === 'user' && ours.test(f.content), 3);
  assert.deepEqual(own.map((f) => [f.id, f.content]), from('b').map((f) => [f.id, f.content]));
  // One transaction held the five: two senders in one batch.
  const times = sql(`SELECT DISTINCT m.created_at FROM messages m JOIN rooms r ON r.id = m.room_id
                     WHERE r.name = :'room' AND m.seq > :'after'`, { room, after: String(m1.id) });
  assert.equal(times.length, 1, 'the five messages share one transaction');
  const stored = sql(`SELECT m.seq, m.content, m.user_id FROM messages m JOIN rooms r ON r.id = m.room_id
                      WHERE r.name = :'room' AND m.seq > :'after' ORDER BY m.seq`, { room, after: String(m1.id) });
  assert.deepEqual(stored, seen.map((f) => [String(f.id), f.content, String(f.uid)]));
});

test('RELAY_BATCH_DELAY=0: nothing is held, messages 200 ms apart have their own transactions', async (t) => {
  const relay = await startRelay({ RELAY_BATCH_DELAY: '0' });
  relays.push(relay);
  const room = uniqueRoom('nobatch');
  const a = await ChatClient.join(newSession(), { room, via: { port: relay.port }, label: 'A' });
  t.after(() => closeAll(a));
  const m1 = await a.say('one');
  await sleep(200);
  const t0 = Date.now();
  const m2 = await a.say('two');
  const waited = Date.now() - t0;
  assert.deepEqual([m1.type, m2.type], ['user', 'user']);
  assert.ok(waited < 900, `posted after ${waited} ms with the delay off`);
  const at = createdAt(room);
  assert.notEqual(at.get(m1.cid), at.get(m2.cid));
});

// Four senders, 8 messages each every 20 ms (about 1,600 a second, over
// 1,000 even when timers run late) for `ms`; resolves once every message
// is acknowledged.
async function burst(port, room, ms) {
  const senders = await Promise.all([0, 1, 2, 3].map((i) =>
    ChatClient.join(newSession(), { room, via: { port }, label: `S${i}` })));
  const cids = senders.map(() => []);
  const from = senders.map((c) => c.mark());
  const start = Date.now();
  while (Date.now() - start < ms) {
    senders.forEach((c, i) => {
      for (let k = 0; k < 8; k++) {
        const cid = newCid();
        cids[i].push(cid);
        c.send({ text: true, content: `busy ${cid}`, cid });
      }
    });
    await sleep(20);
  }
  await Promise.all(senders.map((c, i) => c.waitCount((f) => f.type === 'user' && cids[i].includes(f.cid),
    cids[i].length, { from: from[i], timeout: 60000, what: 'the echoes of the burst' })));
  return { senders, sent: cids.flat().length };
}

// The room's transactions (messages sharing one created_at) that began
// 500 ms or more after its first: their median size, and the room's rows.
function transactionSizes(room) {
  const [[median, rows]] = sql(`
    WITH m AS (SELECT m.created_at FROM messages m JOIN rooms r ON r.id = m.room_id WHERE r.name = :'room'),
         t AS (SELECT created_at, count(*) AS n FROM m GROUP BY created_at)
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY n), (SELECT count(*) FROM m)
    FROM t WHERE created_at >= (SELECT min(created_at) FROM m) + interval '500 ms'`, { room });
  return { median: Number(median), rows: Number(rows) };
}

test('a writer over 800 messages/s waits RELAY_BATCH_DELAY_BUSY between batches (64 still go at once), not after a pause', async (t) => {
  const relay = await startRelay({ RELAY_BATCH_DELAY: '5ms', RELAY_BATCH_DELAY_BUSY: '300ms',
                                   RELAY_RATE: '100000', RELAY_RATE_BURST: '100000',
                                   RELAY_ABUSE_LIMIT: '1000000' });
  relays.push(relay);

  // Busy, the writer holds its batch for 300 ms unless 64 messages wait:
  // at this rate every batch is one of 64. (A 5 ms delay gives batches of
  // whatever came in one commit's time: 20 to 30 messages on this stack.)
  const room = uniqueRoom('busy');
  const b = await burst(relay.port, room, 1500);
  t.after(() => closeAll(...b.senders));
  const sizes = transactionSizes(room);
  t.diagnostic(`median messages per transaction: ${sizes.median}`);
  assert.equal(sizes.rows, b.sent, 'every message of the burst stored');
  assert.ok(sizes.median >= 56, `${sizes.median} messages per transaction`);

  // After a pause the writer is quiet again: a message 100 ms after the
  // first one is not held for the busy delay.
  await sleep(1000);
  const [s] = b.senders;
  await s.say('after the pause');
  await sleep(100);
  const t0 = Date.now();
  const m = await s.say('and another');
  const waited = Date.now() - t0;
  t.diagnostic(`a message 100 ms after another, after the pause: ${waited} ms`);
  assert.equal(m.type, 'user');
  assert.ok(waited < 150, `held ${waited} ms after a pause`);
});
