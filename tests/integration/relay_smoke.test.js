// relay_smoke.test.js -- one end-to-end pass through the relay: two users on
// two relays (one through nginx), a message acknowledged to its sender as
// "user", delivered to the other as "remote", stored with that id, and
// replayed with since=.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('crypto');
const WebSocket = require('ws');
const { env, sql } = require('../lib/harness');

function makeSession(tag) {
  const openid = `smoke-${tag}-${crypto.randomBytes(6).toString('hex')}`;
  const skey = crypto.randomBytes(16).toString('hex');
  const id = `sid-${openid}`;
  const [[uid]] = sql(`WITH u AS (INSERT INTO users (openid, nickname) VALUES (:'openid', :'nick') RETURNING id)
    INSERT INTO sessions (id, skey_hash, user_id, wx_session_key, expires_at)
    SELECT :'id', sha256(convert_to(:'skey', 'UTF8')), id, 'k', now() + interval '1 hour' FROM u
    RETURNING user_id`, { openid, nick: `nick ${tag}`, id, skey });
  return { id, skey, uid: Number(uid) };
}

// Open a socket and collect its frames; resolves after the first frame.
function join(base, s, room, extra = '') {
  const ws = new WebSocket(`${base}/chat?X-WX-Id=${encodeURIComponent(s.id)}&X-WX-Skey=${s.skey}&room=${room}${extra}`);
  ws.frames = [];
  ws.waitFor = (pred, what) => new Promise((resolve, reject) => {
    const hit = ws.frames.find(pred);
    if (hit) return resolve(hit);
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10000);
    ws.on('message', () => {
      const f = ws.frames.find(pred);
      if (f) { clearTimeout(timer); resolve(f); }
    });
  });
  ws.on('message', (d) => ws.frames.push(JSON.parse(d.toString())));
  return ws.waitFor(() => true, 'the first frame').then(() => ws);
}

test('smoke: message through relay 1 (via nginx) reaches relay 2, is stored and replayed', async () => {
  const room = `smoke_${crypto.randomBytes(4).toString('hex')}`;
  const a = makeSession('a');
  const b = makeSession('b');
  const ports = env.RELAY_PORTS.split(' ');
  const viaNginx = env.BASE_URL.replace(/^http/, 'ws');
  const direct = `ws://127.0.0.1:${ports[ports.length - 1]}`;
  const ca = await join(viaNginx, a, room);
  const cb = await join(direct, b, room);
  try {
    assert.equal(ca.frames[0].type, 'system');
    assert.equal(ca.frames[0].room, room);
    assert.equal(ca.frames[0].seq, 0);
    ca.send(JSON.stringify({ text: true, content: 'hello 世界', cid: 'smoke-1' }));
    const ack = await ca.waitFor((f) => f.cid === 'smoke-1', 'the acknowledgement');
    assert.equal(ack.type, 'user');
    assert.equal(ack.id, 1);
    assert.equal(ack.uid, a.uid);
    assert.equal(ack.content, 'hello 世界');
    const seen = await cb.waitFor((f) => f.id === 1, 'the message on relay 2');
    assert.equal(seen.type, 'remote');
    assert.equal(seen.nickName, 'nick a');
    const rows = sql(`SELECT m.seq, m.content FROM messages m JOIN rooms r ON r.id = m.room_id
                      WHERE r.name = :'room'`, { room });
    assert.deepEqual(rows, [['1', 'hello 世界']]);
    const again = await join(direct, b, room, '&since=0');
    assert.equal(again.frames[0].recovered, true);
    const replay = await again.waitFor((f) => f.id === 1, 'the replay');
    assert.equal(replay.history, true);
    assert.equal(replay.type, 'remote');
    again.close();
  } finally {
    ca.close();
    cb.close();
  }
});

// Migration 013 replaced the per-row foreign keys of messages with
// per-statement checks: the same rows must still be refused.
test('messages keep their references: unknown room or user refused, referenced user or room not deletable', () => {
  const s = makeSession('refs');
  const room = `refs-${crypto.randomBytes(4).toString('hex')}`;
  const [[rid]] = sql(`INSERT INTO rooms (name) VALUES (:'room') RETURNING id`, { room });
  sql(`INSERT INTO messages (room_id, user_id, kind, content) VALUES (:'rid', :'uid', 'text', 'kept')`,
    { rid, uid: s.uid });
  const refused = (query, vars) => assert.throws(() => sql(query, vars), /violates foreign key/);
  refused(`INSERT INTO messages (room_id, seq, user_id, kind, content)
           VALUES ((SELECT max(id) + 1000 FROM rooms), 1, :'uid', 'text', 'x')`, { uid: s.uid });
  refused(`INSERT INTO messages (room_id, user_id, kind, content)
           VALUES (:'rid', (SELECT max(id) + 1000 FROM users), 'text', 'x')`, { rid });
  refused(`DELETE FROM users WHERE id = :'uid'`, { uid: s.uid });
  refused(`DELETE FROM rooms WHERE id = :'rid'`, { rid });
  const rows = sql(`SELECT seq, content FROM messages WHERE room_id = :'rid' ORDER BY seq`, { rid });
  assert.deepEqual(rows, [['1', 'kept']]);
});
