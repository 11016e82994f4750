// relay_sessions.test.js -- sessions on the relay: an unknown, mismatched,
// expired or revoked session gets {MAGIC:1, error: ERR_INVALID_SESSION} and
// close 4401 (at open; on the next message after expiry, not stored; at once
// on revocation, on every relay); the other users keep chatting.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { MAGIC, sql } = require('../lib/harness');
const {
  newSession, sessionFor, expireSession, revokeSession, roomMessages,
} = require('../lib/sessions');
const { ChatClient, closeAll, uniqueRoom, newCid, isChat, assertChat } = require('../lib/chat-client');

function assertInvalidSession(f, what) {
  assert.ok(f, `${what}: a frame`);
  assert.equal(f[MAGIC], 1, `${what}: MAGIC key in ${JSON.stringify(f)}`);
  assert.equal(f.error, 'ERR_INVALID_SESSION', what);
  assert.equal(typeof f.message, 'string', what);
}

// Open with `session` (any object with id/skey) and expect MAGIC + 4401 first.
async function expectRefused(session, opts, what) {
  const c = await ChatClient.open(session, Object.assign({ label: what }, opts));
  try {
    const f = await c.waitFor(() => true, { what: `the first frame (${what})` });
    assertInvalidSession(f, what);
    const { code } = await c.waitClose();
    assert.equal(code, 4401, `${what}: close code`);
    assert.equal(c.frames.filter((x) => x.type === 'system').length, 0, `${what}: no system frame`);
  } finally {
    c.terminate();
  }
}

test('unknown, missing, mismatched, expired and revoked sessions are refused at open with 4401', async () => {
  const room = uniqueRoom('refused');
  const good = newSession();
  await expectRefused({ id: good.id, skey: 'not-a-real-skey-0123456789' }, { room }, 'unknown skey');
  await expectRefused(null, { room }, 'no session at all');
  await expectRefused({ id: 'ffffffffffffffffffffffffffffffff', skey: good.skey }, { room }, 'X-WX-Id of another session');
  const other = newSession();
  await expectRefused({ id: other.id, skey: good.skey }, { room }, 'X-WX-Id of another user\'s session');
  await expectRefused({ id: good.id, skey: 'nope' }, { room, sessionInHeaders: true }, 'unknown skey in headers');
  const expired = newSession({ ttl: '-1 minute' });
  await expectRefused(expired, { room }, 'expired session');
  const revoked = newSession();
  revokeSession(revoked);
  await expectRefused(revoked, { room }, 'revoked session');
  await expectRefused(revoked, { room, via: 2 }, 'revoked session on relay 2');
  // the good one still works
  const c = await ChatClient.join(good, { room, label: 'good' });
  try {
    assertChat(await c.say('fine'), { type: 'user', sender: good });
  } finally {
    c.terminate();
  }
});

test('a session that expires while open: the next message gets ERR_INVALID_SESSION + 4401 and is not stored', async (t) => {
  const room = uniqueRoom('expire');
  const a = newSession();
  const b = newSession();
  const ca = await ChatClient.join(a, { room, label: 'A' });
  const cb = await ChatClient.join(b, { room, label: 'B' });
  t.after(() => closeAll(ca, cb));
  const first = await ca.say('before expiry');
  expireSession(a);
  const from = ca.mark();
  const cid = newCid();
  ca.send({ text: true, content: 'after expiry', cid });
  const f = await ca.waitFor(() => true, { from, what: 'the answer after expiry' });
  assertInvalidSession(f, 'message after expiry');
  const { code } = await ca.waitClose();
  assert.equal(code, 4401);
  // B is unaffected and never sees the refused message
  const ok = await cb.say('B goes on');
  assert.equal(ok.id, first.id + 1, 'the refused message used no number');
  assert.deepEqual(cb.chats().map((x) => x.content), ['before expiry', 'B goes on']);
  assert.deepEqual(roomMessages(room).map((m) => m.content), ['before expiry', 'B goes on']);
});

test('revoking a session closes its sockets on both relays with 4401 at once, without any message sent', async (t) => {
  const room = uniqueRoom('revoke');
  const a = newSession();
  const a2 = sessionFor(a.uid);     // the same user's other session stays valid
  const b = newSession();
  const c1 = await ChatClient.join(a, { room, via: 1, label: 'A@relay1' });
  const c2 = await ChatClient.join(a, { room, via: 2, label: 'A@relay2' });
  const c3 = await ChatClient.join(a2, { room, via: 2, label: 'A/other-session' });
  const cb = await ChatClient.join(b, { room, via: 1, label: 'B' });
  t.after(() => closeAll(c1, c2, c3, cb));
  await c1.say('before revocation');
  await cb.waitFor((f) => isChat(f) && f.content === 'before revocation', { what: 'first message' });
  await c2.waitFor((f) => isChat(f) && f.content === 'before revocation', { what: 'first message' });
  revokeSession(a);
  for (const c of [c1, c2]) {
    const { code } = await c.waitClose(5000);
    assert.equal(code, 4401, `${c.label} closed with 4401`);
    const last = c.frames[c.frames.length - 1];
    assertInvalidSession(last, `${c.label}: the last frame`);
  }
  assert.ok(c3.open, 'the user\'s other session is still connected');
  const ok = await c3.say('other session still fine');
  assertChat(ok, { type: 'user', sender: a });
  const seen = await cb.waitFor((f) => isChat(f) && f.id === ok.id, { what: 'B sees the other session' });
  assertChat(seen, { type: 'remote', sender: a });
  // reconnecting with the revoked session is refused
  await expectRefused(a, { room, via: 1 }, 'revoked session again');
});

test('a revocation the relays did not hear (LISTEN down) closes its sockets when LISTEN is back', async (t) => {
  const room = uniqueRoom('missed');
  const a = newSession();
  const a2 = sessionFor(a.uid);
  const c1 = await ChatClient.join(a, { room, via: 1, label: 'A@relay1' });
  const c2 = await ChatClient.join(a, { room, via: 2, label: 'A@relay2' });
  const c3 = await ChatClient.join(a2, { room, via: 1, label: 'A/other-session' });
  t.after(() => closeAll(c1, c2, c3));
  // Revoked with triggers off: no NOTIFY, as if the relays were not listening.
  sql(`SET session_replication_role = replica;
       UPDATE sessions SET revoked_at = now() WHERE id = :'id';
       RESET session_replication_role;`, { id: a.id });
  await new Promise((res) => setTimeout(res, 300));
  assert.ok(c1.open && c2.open, 'nothing told the relays yet');
  // Their LISTEN connections drop; each relay reconnects and asks again.
  sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = 'relay' AND query LIKE 'LISTEN%'`);
  for (const c of [c1, c2]) {
    const { code } = await c.waitClose(10000);
    assert.equal(code, 4401, `${c.label} closed with 4401`);
    assertInvalidSession(c.frames[c.frames.length - 1], `${c.label}: the last frame`);
  }
  assert.ok(c3.open, 'the user\'s other session is still connected');
  const ok = await c3.say('still here');
  assertChat(ok, { type: 'user', sender: a });
});
