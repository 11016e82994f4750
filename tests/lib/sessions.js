// sessions.js -- users and login sessions made directly in SQL (admin role)
// for the relay tests, the way login-fcgi stores them: a users row and a
// sessions row keyed by sha256(skey). Also expires or revokes a session, and
// reads a room's messages back.
'use strict';

const crypto = require('crypto');
const { sql } = require('./harness');

let counter = 0;

// A new user with one session: {uid, id, skey, nickName, avatarUrl}.
// opts: nickName, avatarUrl, ttl (SQL interval, default '1 day').
function newSession(opts = {}) {
  counter += 1;
  const tag = `${process.pid}-${counter}-${crypto.randomBytes(4).toString('hex')}`;
  const nickName = opts.nickName !== undefined ? opts.nickName : `测试用户 ${tag}`;
  const avatarUrl = opts.avatarUrl !== undefined ? opts.avatarUrl : `/files/avatar-${tag}.png`;
  const rows = sql(`INSERT INTO users (openid, nickname, avatar_url)
                    VALUES (:'openid', :'nick', :'avatar') RETURNING id`,
                   { openid: `test-openid-${tag}`, nick: nickName, avatar: avatarUrl });
  const uid = Number(rows[0][0]);
  return Object.assign(sessionFor(uid, opts), { nickName, avatarUrl });
}

// Another session for an existing user: {uid, id, skey}.
function sessionFor(uid, { ttl = '1 day' } = {}) {
  const id = crypto.randomBytes(16).toString('hex');
  const skey = crypto.randomBytes(24).toString('base64url');
  sql(`INSERT INTO sessions (id, skey_hash, user_id, wx_session_key, expires_at)
       VALUES (:'id', sha256(convert_to(:'skey', 'UTF8')), :'uid', 'test-session-key', now() + :'ttl'::interval)`,
      { id, skey, uid, ttl });
  return { uid, id, skey };
}

// Let the session's expiry pass (the relay must notice on the next message).
function expireSession(s) {
  sql(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = :'id'`, { id: s.id });
}

// Revoke the session (announced on channel chat_sessions).
function revokeSession(s) {
  sql(`UPDATE sessions SET revoked_at = now() WHERE id = :'id'`, { id: s.id });
}

// The room's messages in seq order: [{seq, uid, kind, content, cid}].
function roomMessages(room) {
  return sql(`SELECT m.seq, m.user_id, m.kind, m.content, m.cid
              FROM messages m JOIN rooms r ON r.id = m.room_id
              WHERE r.name = :'room' ORDER BY m.seq`, { room })
    .map(([seq, uid, kind, content, cid]) => ({ seq: Number(seq), uid: uid === null ? null : Number(uid), kind, content, cid }));
}

// The room's row: {id, lastSeq, epoch} or null when it does not exist.
function roomRow(room) {
  const rows = sql(`SELECT id, last_seq, epoch FROM rooms WHERE name = :'room'`, { room });
  return rows.length ? { id: Number(rows[0][0]), lastSeq: Number(rows[0][1]), epoch: rows[0][2] } : null;
}

// Insert an announcement the way an operator would in psql (no seq, no user).
function announce(room, content) {
  sql(`INSERT INTO messages (room_id, kind, content)
       SELECT id, 'text', :'content' FROM rooms WHERE name = :'room'`, { room, content });
}

module.exports = { newSession, sessionFor, expireSession, revokeSession, roomMessages, roomRow, announce };
