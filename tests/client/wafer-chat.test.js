// wafer-chat.test.js -- the original mini-program's chat flow, with the real
// wafer-client-sdk@0.8.4 (unmodified, through tests/lib/wx-shim.js) against
// nginx, login-fcgi, the relays and PostgreSQL: log in, open /chat with the
// headers of buildSessionHeader() as the original client does, chat; then the
// session is expired on the server, the socket answers ERR_INVALID_SESSION
// and closes 4401, and the client's own recovery path (clearSession, login,
// reconnect) brings it back with a new session, its message stored once.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { env, sql, MAGIC } = require('../lib/harness');
const { createClient } = require('../lib/wx-shim');
const { userNamer, sessionRow, SDK_SESSION_KEY } = require('../lib/fixtures');

const uname = userNamer();
const WAIT_MS = 15000;

// Open /chat the way the original client does: wx.connectSocket with the
// session headers, frames collected as parsed JSON, the close code kept.
function openChat(c, room) {
  const frames = [];
  const waiters = [];
  let closed = null;
  const settle = () => {
    for (const w of waiters.slice()) {
      const hit = w.closeWanted ? closed : frames.find(w.match);
      if (hit) { waiters.splice(waiters.indexOf(w), 1); clearTimeout(w.timer); w.resolve(hit); }
    }
  };
  c.wx.onSocketMessage((m) => { frames.push(JSON.parse(m.data)); settle(); });
  c.wx.onSocketClose((e) => { closed = e; settle(); });
  c.wx.connectSocket({ url: `${env.BASE_URL.replace(/^http/, 'ws')}/chat?room=${room}`,
                       header: c.sdk.buildSessionHeader() });
  const wait = (what, match, closeWanted = false) => new Promise((resolve, reject) => {
    const w = { match, closeWanted, resolve };
    w.timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(frames)}`)), WAIT_MS);
    waiters.push(w);
    settle();
  });
  const send = (msg) => c.wx.sendSocketMessage({ data: JSON.stringify(msg) });
  return { frames, wait, send, waitClose: () => wait('close', null, true) };
}

describe('the original chat client on wafer-client-sdk 0.8.4', { timeout: 120000 }, () => {
  it('chats with buildSessionHeader(), and after a forced expiry clears its session, logs in again and goes on', async () => {
    const room = uname('wafer_chat').replace(/[^A-Za-z0-9_-]/g, '_');
    const c = createClient({ sdk: 'wafer', user: uname('chatter') });
    c.sdk.setLoginUrl(`${env.BASE_URL}/login`);
    await c.login();
    const first = c.wx.getStorageSync(SDK_SESSION_KEY);
    assert.ok(first && first.skey, 'the SDK stored a session');

    let chat = openChat(c, room);
    const hello = await chat.wait('system frame', (f) => f.type === 'system');
    assert.equal(hello.room, room);
    chat.send({ text: true, content: 'before expiry', cid: 'wc-1' });
    const ack = await chat.wait('own echo', (f) => f.type === 'user' && f.cid === 'wc-1');
    assert.equal(ack.content, 'before expiry');

    // The server expires the session; the next message is refused.
    sql(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = :'id'`, { id: first.id });
    chat.send({ text: true, content: 'after expiry', cid: 'wc-2' });
    const refusal = await chat.wait('session error', (f) => f.error);
    assert.equal(refusal.error, 'ERR_INVALID_SESSION');
    assert.equal(refusal[MAGIC], 1);
    assert.equal((await chat.waitClose()).code, 4401);
    assert.equal(sql(`SELECT count(*) FROM messages WHERE cid = 'wc-2' AND user_id = :'uid'`,
                     { uid: sessionRow(first.skey).uid })[0][0], '0', 'the refused message was not stored');

    // What the original client does on a socket message carrying `error`.
    c.sdk.clearSession();
    assert.equal(c.wx.getStorageSync(SDK_SESSION_KEY), '', 'clearSession() emptied the storage');
    await c.login();
    const second = c.wx.getStorageSync(SDK_SESSION_KEY);
    assert.notEqual(second.skey, first.skey, 'a new session');
    assert.equal(sessionRow(second.skey).uid, sessionRow(first.skey).uid, 'same user');

    chat = openChat(c, room);
    await chat.wait('system frame', (f) => f.type === 'system');
    chat.send({ text: true, content: 'after expiry', cid: 'wc-2' });
    const again = await chat.wait('own echo after re-login', (f) => f.type === 'user' && f.cid === 'wc-2');
    assert.equal(again.id, ack.id + 1, 'the next id of the room: nothing stored in between');
    const rows = sql(`SELECT m.seq FROM messages m JOIN rooms r ON r.id = m.room_id
                      WHERE r.name = :'room' ORDER BY m.seq`, { room });
    assert.deepEqual(rows.map((r) => Number(r[0])), [ack.id, again.id]);
    c.wx.closeSocket();
  });
});
