// fixtures.js -- small helpers several login and client test files share:
// run-unique user names, the session row behind a skey, a user's id by
// openid, the JSON-answer check, and a one-line trail of a shim's requests.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { sql, http, wxCode } = require('./harness');

// A function giving user names unique to this run: uname('tag') -> "tag-1a2b3c-1".
function userNamer() {
  const run = crypto.randomBytes(3).toString('hex');
  let seq = 0;
  return (tag) => `${tag}-${run}-${++seq}`;
}

// The session row of a skey: {id, uid, revoked, expired}, or null.
function sessionRow(skey) {
  const hash = crypto.createHash('sha256').update(skey).digest('hex');
  const rows = sql(`SELECT id, user_id, revoked_at IS NOT NULL, expires_at <= now()
                    FROM sessions WHERE skey_hash = decode(:'h', 'hex')`, { h: hash });
  if (rows.length === 0) return null;
  const [id, uid, revoked, expired] = rows[0];
  return { id, uid: Number(uid), revoked: revoked === 't', expired: expired === 't' };
}

// users.id of an openid.
function uidOf(openid) {
  return Number(sql(`SELECT id FROM users WHERE openid = :'o'`, { o: openid })[0][0]);
}

// Every answer of the login service is JSON and not cached.
function assertJsonAnswer(res) {
  assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8', `content-type of: ${res.text}`);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.notEqual(res.json, undefined, `not JSON: ${res.text}`);
}

// "GET /user 401" style summary of the requests a shimmed client made since index `from`.
const requestTrail = (c, from = 0) =>
  c.shim.requests.slice(from).map((r) => `${r.method} ${new URL(r.url).pathname} ${r.statusCode}`);

// A real login through nginx (wafer /login with encrypted data from the
// stand-in): {uid, id, skey, nickName, avatarUrl, openid, headers}.
async function loginAs(user) {
  const iss = await wxCode(user);
  const res = await http('GET', '/login', {
    headers: { 'X-WX-Code': iss.code, 'X-WX-Encrypted-Data': iss.encryptedData, 'X-WX-IV': iss.iv },
  });
  assert.equal(res.status, 200, res.text);
  const { id, skey } = res.json.session;
  const { uid, nickName, avatarUrl } = res.json.userInfo;
  return { uid, id, skey, nickName, avatarUrl, openid: iss.openid, headers: { 'X-WX-Id': id, 'X-WX-Skey': skey } };
}

const SDK_SESSION_KEY = 'weapp_session_F2C224D4-2BCE-4C64-AF9F-A6D872000D1A';

module.exports = { userNamer, sessionRow, uidOf, assertJsonAnswer, requestTrail, loginAs, SDK_SESSION_KEY };
