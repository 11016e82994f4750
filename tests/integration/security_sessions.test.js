// security_sessions.test.js -- sessions as an attacker sees them, through
// nginx with real logins: skeys are 64 hex characters from a CSPRNG, never
// repeat, and only their SHA-256 is stored; a session is dead for HTTP and
// WebSocket after logout (an open socket is closed at once) and after
// expiry; one user cannot post as another, whatever the message JSON says.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { sql, http, MAGIC } = require('../lib/harness');
const { loginAs } = require('../lib/fixtures');
const { roomMessages } = require('../lib/sessions');
const { ChatClient, closeAll, uniqueRoom, newCid, isChat } = require('../lib/chat-client');

const RUN = crypto.randomBytes(3).toString('hex');
const sha256hex = (s) => crypto.createHash('sha256').update(s).digest('hex');

const login = loginAs;

function assertInvalidSession(res, what) {
  assert.equal(res.status, 401, `${what}: ${res.text}`);
  assert.equal(res.json && res.json.error, 'ERR_INVALID_SESSION', `${what}: ${res.text}`);
}

// A WebSocket open with this session must be refused: MAGIC error, close 4401, nothing else.
async function assertSocketRefused(s, room, what) {
  const c = await ChatClient.open(s, { room, label: what });
  try {
    const f = await c.waitFor(() => true, { what: `${what}: the first frame` });
    assert.equal(f[MAGIC], 1, `${what}: ${JSON.stringify(f)}`);
    assert.equal(f.error, 'ERR_INVALID_SESSION');
    assert.equal((await c.waitClose()).code, 4401, what);
    assert.equal(c.frames.filter((x) => x.type === 'system' || isChat(x)).length, 0, `${what}: no room data`);
  } finally {
    c.terminate();
  }
}

test('skeys: 64 hex characters, 50 logins give 50 different ones with no visible pattern, only sha256(skey) is stored', { timeout: 120000 }, async () => {
  const sessions = [];
  // 25 logins of one user and 25 of different users: no skey, no id repeats
  for (let i = 0; i < 50; i++) sessions.push(await login(i < 25 ? `skeys-${RUN}` : `skeys-${RUN}-${i}`));
  for (const s of sessions) {
    assert.match(s.skey, /^[0-9a-f]{64}$/, 'skey is 64 hex characters (256 bits)');
    assert.match(s.id, /^[0-9a-f]{32}$/, 'session id is 32 hex characters');
  }
  assert.equal(new Set(sessions.map((s) => s.skey)).size, 50, 'every skey differs');
  assert.equal(new Set(sessions.map((s) => s.id)).size, 50, 'every session id differs');
  assert.equal(sessions.filter((s) => s.skey.includes(s.id) || s.id.includes(s.skey.slice(0, 32))).length, 0,
               'the skey is not derived from the public id');
  // no position of the skey is predictable (a counter or a timestamp would show)
  for (let pos = 0; pos < 64; pos++) {
    const chars = new Set(sessions.map((s) => s.skey[pos]));
    assert.ok(chars.size >= 5, `skey position ${pos} takes only ${[...chars]} over 50 logins`);
  }
  const ids = sessions.map((s) => s.id);
  const rows = sql(`SELECT id, encode(skey_hash, 'hex'), s::text FROM sessions s WHERE id = ANY(string_to_array(:'ids', ','))`,
                   { ids: ids.join(',') });
  assert.equal(rows.length, 50);
  const byId = new Map(rows.map((r) => [r[0], r]));
  for (const s of sessions) {
    const [, hash, whole] = byId.get(s.id);
    assert.equal(hash, sha256hex(s.skey), 'skey_hash = sha256(skey)');
    assert.ok(!whole.includes(s.skey), 'the skey itself is in no column');
  }
  // nor anywhere else in the database's user-visible tables
  const found = sql(`SELECT count(*) FROM (SELECT u::text t FROM users u UNION ALL SELECT s::text FROM sessions s
                     UNION ALL SELECT m::text FROM messages m) x WHERE position(:'k' in t) > 0`, { k: sessions[7].skey });
  assert.equal(found[0][0], '0');
});

test('after POST /logout the session is dead for HTTP and WebSocket; an open socket is closed with 4401 at once', { timeout: 60000 }, async (t) => {
  const room = uniqueRoom('logout');
  const s = await login(`logout-${RUN}`);
  const other = await login(`logout-${RUN}`);   // the same user's other session stays valid
  const sock = await ChatClient.join(s, { room, label: 'before logout' });
  const otherSock = await ChatClient.join(other, { room, label: 'other session' });
  t.after(() => closeAll(sock, otherSock));
  await sock.say('before logout');
  const res = await http('POST', '/logout', { headers: s.headers });
  assert.equal(res.status, 200, res.text);
  // the open socket learns it without sending anything
  const f = await sock.waitFor((x) => x[MAGIC] === 1, { what: 'ERR_INVALID_SESSION after logout', timeout: 10000 });
  assert.equal(f.error, 'ERR_INVALID_SESSION');
  assert.equal((await sock.waitClose(10000)).code, 4401);
  // every way of using the skey fails
  assertInvalidSession(await http('GET', '/user', { headers: s.headers }), 'GET /user');
  assertInvalidSession(await http('GET', '/user', { headers: { 'X-WX-Skey': s.skey } }), 'GET /user by skey');
  assertInvalidSession(await http('GET', `/user?X-WX-Skey=${s.skey}`), 'GET /user?X-WX-Skey');
  assertInvalidSession(await http('POST', '/user', { headers: Object.assign({ 'Content-Type': 'application/json' }, s.headers), body: '{"nickName":"ghost"}' }), 'POST /user');
  assertInvalidSession(await http('GET', '/weapp/user', { headers: { 'X-WX-Skey': s.skey } }), 'GET /weapp/user');
  const again = await http('GET', '/login', { headers: s.headers });
  assert.notEqual(again.status, 200, `a logged-out skey is not "already logged in": ${again.text}`);
  await assertSocketRefused(s, room, 'open after logout');
  await assertSocketRefused({ skey: s.skey }, room, 'open after logout, skey alone');
  assert.equal(sql(`SELECT nickname FROM users WHERE id = :'u'`, { u: s.uid })[0][0], s.nickName, 'profile untouched');
  // the same user's other session is unaffected
  assert.ok(otherSock.open, 'the other session\'s socket stays open');
  await otherSock.say('still here');
  assert.equal((await http('GET', '/user', { headers: other.headers })).status, 200);
});

test('an expired session is dead for HTTP and WebSocket, also on a socket opened before it expired', { timeout: 60000 }, async (t) => {
  const room = uniqueRoom('expiry');
  const s = await login(`expiry-${RUN}`);
  const sock = await ChatClient.join(s, { room, label: 'opened before expiry' });
  t.after(() => closeAll(sock));
  await sock.say('while valid');
  sql(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = :'id'`, { id: s.id });
  assertInvalidSession(await http('GET', '/user', { headers: s.headers }), 'GET /user');
  assertInvalidSession(await http('POST', '/logout', { headers: s.headers }), 'POST /logout');
  assertInvalidSession(await http('GET', '/weapp/user', { headers: { 'X-WX-Skey': s.skey } }), 'GET /weapp/user');
  await assertSocketRefused(s, room, 'open after expiry');
  // the socket opened before: its next message is refused and not stored
  const cid = newCid();
  const from = sock.mark();
  sock.send({ text: true, content: 'after expiry', cid });
  const f = await sock.waitFor((x) => x[MAGIC] === 1 || x.cid === cid, { from, what: 'the answer after expiry', timeout: 10000 });
  assert.equal(f.error, 'ERR_INVALID_SESSION', JSON.stringify(f));
  assert.equal((await sock.waitClose(10000)).code, 4401);
  assert.deepEqual(roomMessages(room).map((m) => m.content), ['while valid']);
});

test('one user cannot post as another: uid, nickName, avatarUrl, type, id, time and room in the message are ignored', { timeout: 60000 }, async (t) => {
  const room = uniqueRoom('spoof');
  const mallory = await login(`mallory-${RUN}`);
  const alice = await login(`alice-${RUN}`);
  const cm = await ChatClient.join(mallory, { room, label: 'mallory' });
  const ca = await ChatClient.join(alice, { room, label: 'alice' });
  t.after(() => closeAll(cm, ca));
  const forged = [
    { text: true, content: 'x', uid: 1, nickName: 'admin' },
    { text: true, content: 'as alice', uid: alice.uid, nickName: alice.nickName, avatarUrl: alice.avatarUrl },
    { text: true, content: 'as system', type: 'system', id: 1, time: 0, room: 'lobby', number: 999, history: true },
    { text: true, content: 'string uid', uid: String(alice.uid), user_id: alice.uid, openid: alice.openid },
  ];
  const acks = [];
  for (const msg of forged) {
    const r = await cm.request(Object.assign({ cid: newCid() }, msg));
    if (r.type === 'error') {
      assert.equal(r.error, 'ERR_BAD_MESSAGE', JSON.stringify(r));   // refusing is fine too
      continue;
    }
    acks.push(r);
    for (const f of [r, await ca.waitFor((x) => isChat(x) && x.id === r.id, { what: `broadcast of ${msg.content}` })]) {
      assert.equal(f.uid, mallory.uid, `uid comes from the session: ${JSON.stringify(f)}`);
      assert.equal(f.nickName, mallory.nickName);
      assert.equal(f.avatarUrl, mallory.avatarUrl);
      assert.equal(f.room, room);
      assert.equal(f.content, msg.content);
      assert.equal(f.history, undefined);
      assert.ok(f.time > 1.6e12, 'time is the server\'s');
    }
    assert.equal(r.type, 'user');
  }
  assert.ok(acks.length >= 1, 'the minimal forged message is not refused for its extra keys');
  const rows = sql(`SELECT m.user_id, m.content FROM messages m JOIN rooms r ON r.id = m.room_id
                    WHERE r.name = :'room' ORDER BY m.seq`, { room });
  assert.deepEqual(rows, acks.map((a) => [String(mallory.uid), a.content]), 'every stored row is mallory\'s');
  assert.equal(ca.chats().filter((f) => f.uid === alice.uid).length, 0, 'alice never "said" anything');
  // nor through the profile route: POST /user only ever changes the caller
  const res = await http('POST', '/user', {
    headers: Object.assign({ 'Content-Type': 'application/json' }, mallory.headers),
    body: JSON.stringify({ nickName: 'mallory2', uid: alice.uid, openid: alice.openid }),
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.data.userInfo.uid, mallory.uid);
  assert.deepEqual(sql(`SELECT id, nickname FROM users WHERE id IN (:'a', :'m') ORDER BY id = :'m'`, { a: alice.uid, m: mallory.uid }),
                   [[String(alice.uid), alice.nickName], [String(mallory.uid), 'mallory2']]);
  // and a session id of one user with the skey of another opens nothing
  await assertSocketRefused({ id: alice.id, skey: mallory.skey }, room, 'alice\'s id with mallory\'s skey');
  assertInvalidSession(await http('GET', '/user', { headers: { 'X-WX-Id': alice.id, 'X-WX-Skey': mallory.skey } }), 'mixed id/skey');
});
