// relay_rooms.test.js -- rooms across the two relays of the stack: isolation,
// history on a plain join, catch-up with `since` (while others keep
// sending), recovered:false when the gap cannot be filled, psql-inserted
// announcements, online counts, and one gap-free order of ids seen by every
// client on both relays and equal to the messages table.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { sql } = require('../lib/harness');
const { newSession, sessionFor, roomMessages, roomRow, announce } = require('../lib/sessions');
const {
  ChatClient, closeAll, uniqueRoom, newCid, isChat, assertChat, assertConsecutive, sleep,
} = require('../lib/chat-client');

const HISTORY = 20;        // RELAY_HISTORY default
const CATCHUP_MAX = 1000;  // RELAY_CATCHUP_MAX default

test('rooms are isolated; no room parameter means lobby', async (t) => {
  const x = uniqueRoom('iso');
  const y = uniqueRoom('iso');
  const a = newSession();
  const b = newSession();
  const ca = await ChatClient.join(a, { room: x, label: 'A@x' });
  const cb = await ChatClient.join(b, { room: y, label: 'B@y' });
  const cc = await ChatClient.join(b, { room: x, label: 'B@x' });
  const lobby = await ChatClient.join(a, { label: 'A@lobby' });
  t.after(() => closeAll(ca, cb, cc, lobby));
  assert.equal(lobby.system.room, 'lobby');
  const inX = await ca.say('in x');
  assert.equal(inX.room, x);
  await cc.waitFor((f) => isChat(f) && f.id === inX.id, { what: 'x message in x' });
  const inY = await cb.say('in y');
  assert.equal(inY.room, y);
  assert.equal(inY.id, 1, 'each room has its own numbering');
  await ca.say('x again');
  await cc.waitFor((f) => isChat(f) && f.content === 'x again', { what: 'second x message' });
  assert.deepEqual(cb.chats().map((f) => f.content), ['in y'], 'y saw nothing of x');
  assert.deepEqual(cc.chats().map((f) => f.content), ['in x', 'x again'], 'x saw nothing of y');
  assert.ok(!lobby.chats().some((f) => f.room !== 'lobby'), 'lobby saw nothing of x or y');
});

test('a plain join gets the last RELAY_HISTORY messages, marked history, in order, then live traffic', async (t) => {
  const room = uniqueRoom('hist');
  const s1 = newSession();
  const s2 = newSession();
  const j = newSession();
  const c1 = await ChatClient.join(s1, { room, via: 1, label: 'S1' });
  const c2 = await ChatClient.join(s2, { room, via: 2, label: 'S2' });
  let cj;
  let cown;
  t.after(() => closeAll(c1, c2, cj, cown));
  const sent = [];
  for (let i = 0; i < 13; i++) {
    sent.push(await c1.say(`h1-${i}`));
    sent.push(await c2.say(`h2-${i}`));
  }
  const last = sent[sent.length - 1].id;
  assert.equal(last, 26);
  cj = await ChatClient.join(j, { room, label: 'J' });
  assert.equal(cj.system.seq, last);
  const hist = await cj.waitCount((f) => isChat(f), HISTORY, { what: `${HISTORY} history messages` });
  assertConsecutive(hist.map((f) => f.id), last - HISTORY + 1, 'history ids');
  const rows = roomMessages(room);
  for (const f of hist) {
    const row = rows.find((r) => r.seq === f.id);
    const sender = row.uid === s1.uid ? s1 : s2;
    assertChat(f, { type: 'remote', history: true, room, sender, content: row.content, cid: row.cid });
  }
  const live = await c1.say('live');
  const got = await cj.waitFor((f) => isChat(f) && f.id === live.id, { what: 'the live message' });
  assertChat(got, { type: 'remote', history: false, content: 'live' });
  assert.deepEqual(cj.chats().map((f) => f.id), [...hist.map((f) => f.id), live.id], 'nothing else in between');
  // the sender's own messages in history are "user"
  cown = await ChatClient.join(sessionFor(s1.uid), { room, label: 'S1-again' });
  const own = await cown.waitCount((f) => isChat(f), HISTORY, { what: 'history' });
  for (const f of own) assert.equal(f.type, f.uid === s1.uid ? 'user' : 'remote', `type of history ${f.id}`);
});

test('reconnect with since=<last id seen> while others keep sending: union equals the table, no duplicate, no gap', async (t) => {
  const room = uniqueRoom('since');
  const s1 = newSession();
  const s2 = newSession();
  const r = newSession();
  const c1 = await ChatClient.join(s1, { room, via: 1, label: 'S1@relay1' });
  const c2 = await ChatClient.join(s2, { room, via: 2, label: 'S2@relay2' });
  let first = await ChatClient.join(r, { room, via: 1, label: 'R@relay1' });
  let second;
  t.after(() => closeAll(c1, c2, first, second));
  const epoch = first.system.epoch;
  // two senders, one per relay, 24 messages each at ~8/s (under the rate limit)
  const acks = [];
  let failed = null;
  const sender = async (c, tag) => {
    for (let i = 0; i < 24; i++) {
      try { acks.push(await c.say(`${tag}-${i}`)); } catch (e) { failed = e; return; }
      await sleep(110);
    }
  };
  const sending = Promise.all([sender(c1, 'one'), sender(c2, 'two')]);
  await first.waitCount(isChat, 8, { what: '8 live messages', timeout: 10000 });
  first.terminate();
  await first.closed;
  const seen1 = first.chats();
  const lastSeen = seen1[seen1.length - 1].id;
  await sleep(400);   // others keep sending while R is away
  second = await ChatClient.join(r, { room, via: 2, since: lastSeen, epoch, label: 'R@relay2' });
  assert.equal(second.system.recovered, true, 'the gap can be filled');
  await sending;
  if (failed) throw failed;
  const rows = roomMessages(room);
  assert.equal(rows.length, 48);
  const end = rows[rows.length - 1].seq;
  await second.waitFor((f) => isChat(f) && f.id === end, { what: `the last id ${end}`, timeout: 10000 });
  const seen2 = second.chats();
  assert.ok(seen2.every((f) => f.id > lastSeen), 'no message seen before is sent again');
  const union = [...seen1, ...seen2];
  assert.deepEqual(union.map((f) => f.id), rows.map((m) => m.seq), 'union of both connections = the table, in order');
  assert.deepEqual(union.map((f) => f.content), rows.map((m) => m.content));
  const replayed = seen2.filter((f) => f.history);
  assert.ok(replayed.length > 0, 'something was missed and replayed');
  assertConsecutive(replayed.map((f) => f.id), lastSeen + 1, 'replayed ids');
  // replayed ones first, then only live ones
  const firstLive = seen2.findIndex((f) => !f.history);
  if (firstLive >= 0) assert.ok(seen2.slice(firstLive).every((f) => !f.history), 'history precedes live traffic');
  assertConsecutive(union.map((f) => f.id), 1, 'all ids');
  for (const a of acks) assert.ok(rows.some((m) => m.seq === a.id && m.cid === a.cid), `ack ${a.id} is stored`);
});

test('since beyond the end, a wrong epoch, or more than RELAY_CATCHUP_MAX missing: recovered:false and the newest messages', async (t) => {
  const room = uniqueRoom('unrec');
  const s = newSession();
  const c = await ChatClient.join(s, { room, label: 'S' });
  t.after(() => closeAll(c));
  for (let i = 0; i < 5; i++) await c.say(`m${i}`);
  const epoch = c.system.epoch;
  const check = async (opts, what, wantIds) => {
    const r = await ChatClient.join(newSession(), Object.assign({ room, label: what }, opts));
    try {
      assert.equal(r.system.recovered, false, `${what}: recovered:false in ${JSON.stringify(r.system)}`);
      const got = await r.waitCount(isChat, wantIds.length, { what: `${what}: newest messages` });
      assert.deepEqual(got.map((f) => f.id), wantIds, what);
      assert.ok(got.every((f) => f.history === true), `${what}: marked history`);
    } finally {
      r.terminate();
    }
  };
  await check({ since: 50, epoch }, 'since beyond the end', [1, 2, 3, 4, 5]);
  await check({ since: 2, epoch: 'deadbeefdeadbeefdeadbeefdeadbeef' }, 'wrong epoch', [1, 2, 3, 4, 5]);
  // right epoch: recovered:true and exactly the missing ones
  const ok = await ChatClient.join(newSession(), { room, since: 2, epoch, label: 'right epoch' });
  try {
    assert.equal(ok.system.recovered, true);
    assert.equal(ok.system.seq, 5);
    const got = await ok.waitCount(isChat, 3, { what: 'ids 3..5' });
    assert.deepEqual(got.map((f) => f.id), [3, 4, 5]);
    await ok.say('marker');
    assert.deepEqual(ok.chats().map((f) => f.id), [3, 4, 5, 6], 'no duplicate after the catch-up');
  } finally {
    ok.terminate();
  }

  // more than RELAY_CATCHUP_MAX missing (rows typed in with psql)
  const big = uniqueRoom('catchup');
  sql(`INSERT INTO rooms (name) VALUES (:'room')`, { room: big });
  sql(`INSERT INTO messages (room_id, kind, content)
       SELECT r.id, 'text', 'bulk ' || g FROM rooms r, generate_series(1, :'n'::int) g WHERE r.name = :'room'`,
      { room: big, n: CATCHUP_MAX + 5 });
  const total = CATCHUP_MAX + 5;
  const r0 = await ChatClient.join(newSession(), { room: big, since: 0, label: 'since=0' });
  try {
    assert.equal(r0.system.recovered, false, 'more than RELAY_CATCHUP_MAX missing');
    const got = await r0.waitCount(isChat, HISTORY, { what: 'the newest messages' });
    assertConsecutive(got.map((f) => f.id), total - HISTORY + 1, 'the newest');
  } finally {
    r0.terminate();
  }
  const r10 = await ChatClient.join(newSession(), { room: big, since: 10, label: 'since=10' });
  try {
    assert.equal(r10.system.recovered, true, `${total - 10} missing is within RELAY_CATCHUP_MAX`);
    const got = await r10.waitCount(isChat, total - 10, { what: 'the whole gap', timeout: 15000 });
    assertConsecutive(got.map((f) => f.id), 11, 'catch-up ids');
    assert.equal(got[got.length - 1].content, `bulk ${total}`);
    assert.ok(got[0].uid === null || got[0].uid === undefined, 'an announcement has no sender');
  } finally {
    r10.terminate();
  }
});

test('a row INSERTed with psql reaches connected clients on both relays with the next id', async (t) => {
  const room = uniqueRoom('psql');
  const a = newSession();
  const c1 = await ChatClient.join(a, { room, via: 1, label: 'A@relay1' });
  const c2 = await ChatClient.join(newSession(), { room, via: 2, label: 'B@relay2' });
  t.after(() => closeAll(c1, c2));
  const before = await c1.say('before the announcement');
  announce(room, 'Maintenance at 22:00 — 维护');
  for (const c of [c1, c2]) {
    const f = await c.waitFor((x) => isChat(x) && x.id === before.id + 1, { what: 'the announcement' });
    assert.equal(f.type, 'remote');
    assert.equal(f.text, true);
    assert.equal(f.content, 'Maintenance at 22:00 — 维护');
    assert.equal(f.room, room);
  }
  const after = await c2.say('after it');
  assert.equal(after.id, before.id + 2);
  assert.equal(roomRow(room).lastSeq, after.id);
});

test('online count: joins and leaves on both relays give the right num', async (t) => {
  const room = uniqueRoom('num');
  const settle = () => sleep(500);   // presence travels through PostgreSQL NOTIFY
  const a = await ChatClient.join(newSession(), { room, via: 1, label: 'A@relay1' });
  const clients = [a];
  t.after(() => closeAll(clients));
  assert.equal(a.system.num, 1);
  await settle();
  let from = a.mark();
  const b = await ChatClient.join(newSession(), { room, via: 2, label: 'B@relay2' });
  clients.push(b);
  assert.equal(b.system.num, 2, 'B counts A on the other relay');
  let ev = await a.waitFor((f) => f.type === 'system' && f.event === 'join', { from, what: 'B\'s join' });
  assert.equal(ev.num, 2);
  assert.equal(ev.room, room);
  await settle();
  const fromA = a.mark();
  const fromB = b.mark();
  const c = await ChatClient.join(newSession(), { room, via: 1, label: 'C@relay1' });
  clients.push(c);
  assert.equal(c.system.num, 3);
  for (const [x, f] of [[a, fromA], [b, fromB]]) {
    ev = await x.waitFor((y) => y.type === 'system' && y.event === 'join' && y.num === 3, { from: f, what: 'C\'s join' });
  }
  // the count in chat messages
  const msg = await c.say('three of us');
  assert.equal(msg.number, 3);
  await settle();
  from = a.mark();
  const fromC = c.mark();
  b.close();
  await b.closed;
  for (const [x, f] of [[a, from], [c, fromC]]) {
    ev = await x.waitFor((y) => y.type === 'system' && y.event === 'leave', { from: f, what: 'B\'s leave' });
    assert.equal(ev.num, 2, `${x.label} sees 2 after B left`);
  }
  await settle();
  const d = await ChatClient.join(newSession(), { room, via: 2, label: 'D@relay2' });
  clients.push(d);
  assert.equal(d.system.num, 3, 'A, C and D');
  assert.ok(!a.frames.some((f) => f.type === 'system' && f.event && f.num < 1), 'no negative or zero count');
});

test('concurrent senders on both relays: gap-free ids, one order for every client, equal to the table', async (t) => {
  const room = uniqueRoom('order');
  const senders = [];
  const listeners = [];
  t.after(() => closeAll(senders, listeners));
  for (let i = 0; i < 4; i++) {
    senders.push(await ChatClient.join(newSession(), { room, via: (i % 2) + 1, label: `S${i}@relay${(i % 2) + 1}` }));
  }
  listeners.push(await ChatClient.join(newSession(), { room, via: 1, label: 'L@relay1' }));
  listeners.push(await ChatClient.join(newSession(), { room, via: 2, label: 'L@relay2' }));
  listeners.push(await ChatClient.join(newSession(), { room, label: 'L@nginx' }));
  const PER = 15;   // under the default burst of 20
  for (let k = 0; k < PER; k++) {
    senders.forEach((s, i) => s.send({ text: true, content: `s${i}-${k}`, cid: newCid() }));
  }
  const everyone = [...senders, ...listeners];
  const total = PER * senders.length;
  const views = [];
  for (const c of everyone) {
    const chats = await c.waitCount(isChat, total, { what: `${total} messages`, timeout: 15000 });
    assert.equal(c.frames.filter((f) => f.type === 'error').length, 0, `${c.label}: no error`);
    views.push(chats.map((f) => `${f.id}:${f.content}`));
  }
  const rows = roomMessages(room);
  const table = rows.map((m) => `${m.seq}:${m.content}`);
  assertConsecutive(rows.map((m) => m.seq), 1, 'table seqs');
  assert.equal(rows.length, total);
  everyone.forEach((c, i) => assert.deepEqual(views[i], table, `${c.label} sees the table order`));
  // per-sender order kept, and "user" only for the sender's own messages
  senders.forEach((s, i) => {
    const own = s.chats().filter((f) => f.content.startsWith(`s${i}-`));
    assert.deepEqual(own.map((f) => f.content), Array.from({ length: PER }, (_, k) => `s${i}-${k}`));
    assert.ok(own.every((f) => f.type === 'user'), `${s.label}: own messages are "user"`);
    assert.ok(s.chats().filter((f) => !f.content.startsWith(`s${i}-`)).every((f) => f.type === 'remote'));
  });
});
