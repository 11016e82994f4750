// relay_chat.test.js -- chatting through nginx as users see it: the system
// frame on open, a text message as "user" to its sender and "remote" to
// others and in the messages table, cid deduplication, image (gallery) URLs,
// bad input answered with ERR_BAD_MESSAGE on a socket that stays usable, and
// the close codes for bad room/since (1008), invalid UTF-8 (1007), messages
// over RELAY_MAX_MESSAGE (1009) and binary frames (1002).
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { sql } = require('../lib/harness');
const { newSession, sessionFor, roomMessages, roomRow } = require('../lib/sessions');
const {
  ChatClient, closeAll, uniqueRoom, newCid, isChat, assertChat,
} = require('../lib/chat-client');

const MAX_CONTENT = 4096;   // RELAY_MAX_CONTENT default
const MAX_MESSAGE = 65536;  // RELAY_MAX_MESSAGE default (64K)

// Send each payload on `client` and expect ERR_BAD_MESSAGE (with the cid when
// the payload is an object with a string cid); the socket stays open.
async function expectBadMessages(client, payloads) {
  for (const p of payloads) {
    const from = client.mark();
    client.send(p);
    const what = typeof p === 'string' ? p : JSON.stringify(p);
    const f = await client.waitFor((x) => x.type === 'error' || isChat(x),
                                   { from, what: `the answer to ${what.slice(0, 80)}` });
    assert.equal(f.type, 'error', `${what.slice(0, 80)} must be refused, got ${JSON.stringify(f).slice(0, 120)}`);
    assert.equal(f.error, 'ERR_BAD_MESSAGE', `${what.slice(0, 80)}: ${JSON.stringify(f)}`);
    assert.equal(typeof f.message, 'string');
    // (a NUL escape may fail the JSON parser itself: then no cid is known)
    if (typeof p === 'object' && typeof p.cid === 'string' && p.cid.length <= 64 && !what.includes('\\u0000')) {
      assert.equal(f.cid, p.cid, `the error names the cid: ${what.slice(0, 80)} -> ${JSON.stringify(f)}`);
    }
    assert.ok(client.open, `socket still open after ${what.slice(0, 80)}`);
  }
}

// Run `payloads` on fresh connections of `session` in groups that stay
// under the default rate-limit burst.
async function badMessagesInGroups(session, room, payloads, size = 8) {
  for (let i = 0; i < payloads.length; i += size) {
    const c = await ChatClient.join(session, { room, label: `bad#${i}` });
    try {
      await expectBadMessages(c, payloads.slice(i, i + size));
      // the socket is still usable
      const ack = await c.say(`still fine ${i}`);
      assertChat(ack, { type: 'user', content: `still fine ${i}` });
    } finally {
      c.terminate();
    }
  }
}

test('open through nginx: system frame, text reaches sender as user and others as remote, stored with the same id', async (t) => {
  const room = uniqueRoom('basic');
  const a = newSession();
  const b = newSession();
  let cb;
  const ca = await ChatClient.join(a, { room, label: 'A' });
  t.after(() => closeAll(ca, cb));
  const row = roomRow(room);
  assert.ok(row, 'the room was created on first use');
  assert.equal(ca.system.room, room);
  assert.equal(ca.system.seq, 0, 'a new room has no message yet');
  assert.equal(ca.system.epoch, row.epoch, 'epoch is the room\'s epoch');
  assert.ok(Number.isSafeInteger(ca.system.num) && ca.system.num >= 1, `num ${ca.system.num}`);
  assert.equal(ca.system.recovered, undefined, 'no recovered flag without since');
  cb = await ChatClient.join(b, { room, label: 'B' });

  const content = 'hello <b>&amp;</b> "quoted" \\ 你好 € 😀';
  const cid = newCid();
  const ack = await ca.say(content, { cid });
  assertChat(ack, { type: 'user', room, sender: a, content, cid, id: 1, history: false });
  const remote = await cb.waitFor((f) => isChat(f) && f.id === ack.id, { what: 'the remote copy' });
  assertChat(remote, { type: 'remote', room, sender: a, content, cid, id: ack.id, history: false });
  assert.equal(remote.time, ack.time);
  for (const f of [...ca.frames, ...cb.frames]) {
    const s = JSON.stringify(f);
    assert.ok(!s.includes(a.skey) && !s.includes('openid'), `no secret or openid in ${s}`);
  }

  const rows = roomMessages(room);
  assert.deepEqual(rows, [{ seq: ack.id, uid: a.uid, kind: 'text', content, cid }]);
  const ms = Number(sql(`SELECT floor(extract(epoch FROM m.created_at) * 1000)::bigint FROM messages m
                          JOIN rooms r ON r.id = m.room_id WHERE r.name = :'room'`, { room })[0][0]);
  assert.ok(Math.abs(ack.time - ms) <= 1, `time ${ack.time} is created_at in ms (${ms})`);

  // without cid: no cid in the frames
  const from = cb.mark();
  ca.send({ text: true, content: 'no cid' });
  const own = await ca.waitFor((f) => f.type === 'user' && f.content === 'no cid', { what: 'echo without cid' });
  assertChat(own, { type: 'user', sender: a, content: 'no cid', cid: null, id: 2 });
  const other = await cb.waitFor((f) => isChat(f) && f.id === 2, { from, what: 'remote without cid' });
  assertChat(other, { type: 'remote', sender: a, content: 'no cid', cid: null });

  // B answers: A sees it as remote
  const back = await cb.say('hi A');
  assertChat(back, { type: 'user', sender: b, id: 3 });
  const seen = await ca.waitFor((f) => isChat(f) && f.id === 3, { what: 'B\'s message' });
  assertChat(seen, { type: 'remote', sender: b, content: 'hi A' });
});

test('a user\'s every connection gets "user", other users "remote"; session by headers or by skey alone', async (t) => {
  const room = uniqueRoom('multi');
  const a = newSession();
  const a2 = sessionFor(a.uid);
  const b = newSession();
  const c1 = await ChatClient.join(a, { room, label: 'A/query' });
  const c2 = await ChatClient.join(a2, { room, sessionInHeaders: true, label: 'A/headers' });
  const c3 = await ChatClient.join(a, { room, noId: true, label: 'A/skey-only' });
  const cb = await ChatClient.join(b, { room, label: 'B' });
  t.after(() => closeAll(c1, c2, c3, cb));
  const ack = await c2.say('from headers');
  assertChat(ack, { type: 'user', sender: a, content: 'from headers' });
  for (const c of [c1, c3]) {
    const f = await c.waitFor((x) => isChat(x) && x.id === ack.id, { what: 'own message on another connection' });
    assertChat(f, { type: 'user', sender: a, content: 'from headers', cid: ack.cid });
  }
  const r = await cb.waitFor((x) => isChat(x) && x.id === ack.id, { what: 'the remote copy' });
  assertChat(r, { type: 'remote', sender: a });
  const ack3 = await c3.say('from skey only');
  assertChat(ack3, { type: 'user', sender: a, id: ack.id + 1 });
});

test('cid: a resent cid gives the stored message again, one row, others see it once; cids are per user', async (t) => {
  const room = uniqueRoom('cid');
  const a = newSession();
  const b = newSession();
  let ca = await ChatClient.join(a, { room, label: 'A' });
  const cb = await ChatClient.join(b, { room, label: 'B' });
  t.after(() => closeAll(ca, cb));
  const cid = newCid();
  const first = await ca.say('only once', { cid });
  const again = await ca.say('only once', { cid });
  assertChat(again, { type: 'user', id: first.id, content: 'only once', cid, sender: a });
  // after reconnecting (the real reason to resend)
  ca.terminate();
  ca = await ChatClient.join(a, { room, label: 'A2' });
  const third = await ca.say('only once', { cid });
  assert.equal(third.id, first.id, 'same id after reconnecting');
  const next = await ca.say('next');
  assert.equal(next.id, first.id + 1, 'no number was used by the resends');
  // the same cid from another user is another message
  const bs = await cb.say('mine', { cid });
  assert.equal(bs.id, first.id + 2);
  assertChat(bs, { type: 'user', sender: b, cid });

  await cb.waitFor((f) => isChat(f) && f.id === next.id, { what: 'the marker' });
  assert.equal(cb.chats().filter((f) => f.id === first.id).length, 1, 'B saw the message once');
  assert.equal(ca.chats().filter((f) => f.id === first.id && !f.history).length, 1, 'the new connection got only its echo');
  const rows = roomMessages(room);
  assert.deepEqual(rows.map((r) => [r.seq, r.uid, r.cid]),
                   [[first.id, a.uid, cid], [next.id, a.uid, next.cid], [bs.id, b.uid, cid]]);
});

test('cid of exactly 64 characters is accepted, content of exactly RELAY_MAX_CONTENT bytes too', async (t) => {
  const room = uniqueRoom('bounds');
  const a = newSession();
  const ca = await ChatClient.join(a, { room, label: 'A' });
  t.after(() => closeAll(ca));
  const cid64 = 'c'.repeat(63) + Math.random().toString(36).slice(2, 3);
  const ack = await ca.say('x', { cid: cid64 });
  assertChat(ack, { cid: cid64 });
  const big = 'a'.repeat(MAX_CONTENT);
  assert.equal((await ca.say(big)).content, big);
  const euros = '€'.repeat(Math.floor(MAX_CONTENT / 3));   // 4095 bytes
  assert.equal((await ca.say(euros)).content, euros);
  assert.equal(roomMessages(room).length, 3);
});

test('gallery: an allowed /files/ URL passes; other schemes, hosts and path tricks are refused and not stored', async (t) => {
  const room = uniqueRoom('gallery');
  const a = newSession();
  const b = newSession();
  const ca = await ChatClient.join(a, { room, label: 'A' });
  const cb = await ChatClient.join(b, { room, label: 'B' });
  t.after(() => closeAll(ca, cb));
  const url = '/files/0f3c9a7e2b.png';
  const from = ca.mark();
  const cid = newCid();
  ca.send({ gallery: true, url, cid });
  const ack = await ca.waitFor((f) => f.cid === cid, { from, what: 'the gallery echo' });
  assertChat(ack, { type: 'user', sender: a, url, cid, id: 1 });
  const r = await cb.waitFor((f) => isChat(f) && f.id === 1, { what: 'the remote image' });
  assertChat(r, { type: 'remote', sender: a, url, cid });

  const bad = [
    'javascript:alert(1)', 'JavaScript:alert(1)', 'data:image/png;base64,iVBORw0KGgo=',
    'http://127.0.0.1/files/a.png', 'https://evil.example/files/a.png', '//evil.example/files/a.png',
    '/files/../etc/passwd', '/files/a/../../etc/passwd', '/files/%2e%2e/etc/passwd', '/files/%2E%2E%2Fsecret',
    '/files\\..\\etc\\passwd', '/files/a\\b.png', '/files/a b.png', '/files/a\n.png', '/files/a\u0000.png',
    '/files/a.png?x=1', '/files/a.png#top', '/filesx/a.png', '/other/a.png', 'files/a.png', '',
    `/files/${'a'.repeat(MAX_CONTENT)}.png`,
  ].map((u) => ({ gallery: true, url: u, cid: newCid() }));
  bad.push({ gallery: true, cid: newCid() }, { gallery: true, url: 5, cid: newCid() },
           { gallery: true, url: ['/files/a.png'], cid: newCid() });
  await badMessagesInGroups(a, room, bad);

  await ca.say('marker');
  await cb.waitFor((f) => isChat(f) && f.content === 'marker', { what: 'marker' });
  const urls = cb.chats().filter((f) => f.gallery).map((f) => f.url);
  assert.deepEqual(urls, [url], 'B saw only the allowed image');
  const images = roomMessages(room).filter((m) => m.kind === 'image');
  assert.deepEqual(images.map((m) => m.content), [url], 'only the allowed image is stored');
});

test('bad input: ERR_BAD_MESSAGE, the socket stays usable, nothing reaches others or the table', async (t) => {
  const room = uniqueRoom('bad');
  const a = newSession();
  const b = newSession();
  const cb = await ChatClient.join(b, { room, label: 'B' });
  t.after(() => closeAll(cb));
  const c = () => newCid();
  const payloads = [
    'hello', '{"text":true,"content":"x"', '[1,2,3]', '[{"text":true,"content":"x"}]', '"text"', '42', 'null',
    'true', '',
    { text: 'yes', content: 'x', cid: c() }, { text: true, content: 5, cid: c() },
    { text: true, content: ['x'], cid: c() }, { text: true, content: { a: 1 }, cid: c() },
    { text: true, content: null, cid: c() }, { text: true, content: '', cid: c() }, { text: true, cid: c() },
    { content: 'no kind', cid: c() }, { cid: c() },
    { text: true, content: 'a'.repeat(MAX_CONTENT + 1), cid: c() },
    { text: true, content: '€'.repeat(Math.floor(MAX_CONTENT / 3) + 1), cid: c() },   // 4098 bytes
    { text: true, content: 'long cid', cid: 'c'.repeat(65) },
    { text: true, content: 'number cid', cid: 5 },
    { text: true, content: 'x'.repeat(60000), cid: c() },   // under RELAY_MAX_MESSAGE, over RELAY_MAX_CONTENT
  ];
  await badMessagesInGroups(a, room, payloads);
  // only the "still fine" messages of each group were stored and seen
  const groups = Math.ceil(payloads.length / 8);
  const rows = roomMessages(room);
  assert.deepEqual(rows.map((r) => r.content), Array.from({ length: groups }, (_, i) => `still fine ${i * 8}`));
  await cb.waitFor((f) => isChat(f) && f.id === rows[rows.length - 1].seq, { what: 'the last fine message' });
  assert.deepEqual(cb.chats().map((f) => f.content), rows.map((r) => r.content), 'B saw only the good ones');
  assert.equal(cb.frames.filter((f) => f.type === 'error').length, 0, 'B got no error');
});

test('bad room or since parameter: ERR_BAD_MESSAGE then close 1008', async () => {
  const a = newSession();
  const cases = [
    { room: 'bad.name' }, { room: 'a b' }, { room: 'x'.repeat(65) }, { room: 'ünïcode' }, { room: 'a/b' },
    { room: uniqueRoom('since'), since: '-1' }, { room: uniqueRoom('since'), since: 'abc' },
    { room: uniqueRoom('since'), since: '1.5' }, { room: uniqueRoom('since'), since: '0x10' },
  ];
  for (const opts of cases) {
    const c = await ChatClient.open(a, Object.assign({ label: JSON.stringify(opts) }, opts));
    try {
      const f = await c.waitFor(() => true, { what: 'the first frame' });
      assert.equal(f.type, 'error', `${JSON.stringify(opts)}: ${JSON.stringify(f)}`);
      assert.equal(f.error, 'ERR_BAD_MESSAGE');
      const { code } = await c.waitClose();
      assert.equal(code, 1008, `${JSON.stringify(opts)} closes with 1008`);
      assert.equal(c.frames.filter((x) => x.type === 'system').length, 0, 'no system frame');
    } finally {
      c.terminate();
    }
  }
});

// The close-code cases run straight on relay 1, and a client there keeps chatting.
async function closedWith(session, room, send, want) {
  const observer = await ChatClient.join(newSession(), { room, via: 1, label: 'observer' });
  const c = await ChatClient.join(session, { room, via: 1, label: 'offender' });
  try {
    send(c);
    const { code } = await c.waitClose();
    assert.equal(code, want.code, want.what);
    const ok = await observer.say(`after ${want.what}`);
    assertChat(ok, { type: 'user' });
    return ok;
  } finally {
    closeAll(c, observer);
  }
}

test('invalid UTF-8 in a text frame closes 1007, nothing stored', async () => {
  const room = uniqueRoom('utf8');
  const a = newSession();
  const bytes = Buffer.concat([Buffer.from('{"text":true,"content":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
  await closedWith(a, room, (c) => c.ws.send(bytes, { binary: false }), { code: 1007, what: 'invalid UTF-8' });
  const overlong = Buffer.concat([Buffer.from('{"text":true,"content":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
  await closedWith(a, room, (c) => c.ws.send(overlong, { binary: false }), { code: 1007, what: 'overlong encoding' });
  const surrogate = Buffer.concat([Buffer.from('{"text":true,"content":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]);
  await closedWith(a, room, (c) => c.ws.send(surrogate, { binary: false }), { code: 1007, what: 'UTF-16 surrogate' });
  assert.ok(roomMessages(room).every((m) => m.content.startsWith('after ')), 'only the observers\' messages');
});

test('a message over RELAY_MAX_MESSAGE closes 1009; a binary frame closes 1002', async () => {
  const room = uniqueRoom('big');
  const a = newSession();
  const huge = JSON.stringify({ text: true, content: 'y'.repeat(MAX_MESSAGE + 10), cid: newCid() });
  await closedWith(a, room, (c) => c.send(huge), { code: 1009, what: 'message over the limit' });
  const json = Buffer.from(JSON.stringify({ text: true, content: 'binary' }));
  await closedWith(a, room, (c) => c.ws.send(json, { binary: true }), { code: 1002, what: 'binary frame' });
  assert.ok(roomMessages(room).every((m) => m.content.startsWith('after ')), 'only the observers\' messages');
});
