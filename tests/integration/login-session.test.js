// login-session.test.js -- black-box tests of the login service's session
// check (GET /user with valid, unknown, mismatched, expired and revoked
// sessions), POST /logout, profile updates through POST /user, the wafer2
// /weapp/user route, 404/405 answers and /healthz; through nginx against the
// real PostgreSQL.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { sql, http, wxCode, MAGIC } = require('../lib/harness');
const { userNamer, assertJsonAnswer } = require('../lib/fixtures');

const uname = userNamer();


function assertError(res, status, error) {
  assertJsonAnswer(res);
  assert.equal(res.status, status, `status of ${res.text}`);
  assert.equal(res.json[MAGIC], 1, `MAGIC in ${res.text}`);
  assert.equal(res.json.error, error, res.text);
  assert.equal(typeof res.json.message, 'string');
  assert.ok(res.json.message.length > 0);
}

const invalidSession = (res) => assertError(res, 401, 'ERR_INVALID_SESSION');
const badRequest = (res) => assertError(res, 400, 'ERR_BAD_REQUEST');

// Log `user` in with encrypted data; returns {id, skey, userInfo, openid, headers}.
async function session(user, codeOptions = {}) {
  const iss = await wxCode(user, codeOptions);
  const res = await http('GET', '/login', {
    headers: { 'X-WX-Code': iss.code, 'X-WX-Encrypted-Data': iss.encryptedData, 'X-WX-IV': iss.iv },
  });
  assert.equal(res.status, 200, res.text);
  const { id, skey } = res.json.session;
  return { id, skey, userInfo: res.json.userInfo, openid: iss.openid, iss, headers: { 'X-WX-Id': id, 'X-WX-Skey': skey } };
}

// The success body of GET/POST /user; returns its userInfo.
function assertUserAnswer(res, expected = {}) {
  assertJsonAnswer(res);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.code, 0, res.text);
  assert.equal(res.json[MAGIC], undefined, 'a success body never carries MAGIC (wafer reads it as an error)');
  const info = res.json.data && res.json.data.userInfo;
  assert.ok(info, `data.userInfo in ${res.text}`);
  for (const k of ['uid', 'nickName', 'avatarUrl', 'gender', 'language', 'city', 'province', 'country']) {
    assert.ok(k in info, `userInfo.${k} missing in ${res.text}`);
  }
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(info[k], v, `userInfo.${k}`);
  assert.ok(!/openid|session_key|unionid/i.test(Object.keys(info).join(' ')), res.text);
  return info;
}

const getUser = (headers) => http('GET', '/user', { headers });
const postUser = (headers, body) => http('POST', '/user', {
  headers: Object.assign({ 'Content-Type': 'application/json' }, headers),
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

function userRow(openid) {
  const [[nickname, avatar]] = sql(`SELECT nickname, avatar_url FROM users WHERE openid = :'o'`, { o: openid });
  return { nickname, avatar };
}

describe('session check on GET /user', { timeout: 120000 }, () => {
  it('a valid session: the user, by id + skey, by skey alone, and by query parameters', async () => {
    const user = uname('valid');
    const s = await session(user);
    assertUserAnswer(await getUser(s.headers), { uid: s.userInfo.uid, nickName: user, city: 'Guangzhou' });
    assertUserAnswer(await getUser({ 'X-WX-Skey': s.skey }), { uid: s.userInfo.uid });
    assertUserAnswer(await http('GET', `/user?X-WX-Id=${s.id}&X-WX-Skey=${s.skey}`), { uid: s.userInfo.uid });
    const res = await http('GET', `/user?x-wx-skey=${s.skey}`);
    assertUserAnswer(res, { uid: s.userInfo.uid });
    assert.ok(!res.text.includes(s.openid), 'the answer contains the openid');
    const [[wxKey]] = sql(`SELECT wx_session_key FROM sessions WHERE id = :'id'`, { id: s.id });
    assert.ok(!res.text.includes(wxKey), 'the answer contains the WeChat session_key');
  });

  it('last_seen_at is refreshed, at most once a minute', async () => {
    const s = await session(uname('seen'));
    const seen = () => sql(`SELECT last_seen_at FROM sessions WHERE id = :'id'`, { id: s.id })[0][0];
    sql(`UPDATE sessions SET last_seen_at = now() - interval '30 seconds' WHERE id = :'id'`, { id: s.id });
    const recent = seen();
    assertUserAnswer(await getUser(s.headers));
    assert.equal(seen(), recent, 'updated again within a minute');
    sql(`UPDATE sessions SET last_seen_at = now() - interval '10 minutes' WHERE id = :'id'`, { id: s.id });
    assertUserAnswer(await getUser(s.headers));
    const [[fresh]] = sql(`SELECT last_seen_at > now() - interval '1 minute' FROM sessions WHERE id = :'id'`, { id: s.id });
    assert.equal(fresh, 't', 'last_seen_at not refreshed after 10 minutes');
  });

  it('no session, unknown or malformed skeys: 401', async () => {
    const s = await session(uname('unknown'));
    invalidSession(await getUser({}));
    invalidSession(await getUser({ 'X-WX-Id': s.id }));
    invalidSession(await getUser({ 'X-WX-Skey': crypto.randomBytes(32).toString('hex') }));
    invalidSession(await getUser({ 'X-WX-Id': s.id, 'X-WX-Skey': crypto.randomBytes(32).toString('hex') }));
    invalidSession(await getUser({ 'X-WX-Skey': s.skey.slice(0, 63) }));
    invalidSession(await getUser({ 'X-WX-Skey': `${s.skey}0` }));
    invalidSession(await getUser({ 'X-WX-Skey': "' OR '1'='1" }));
    invalidSession(await getUser({ 'X-WX-Skey': '' }));
    // The session id is public: it is no skey.
    invalidSession(await getUser({ 'X-WX-Skey': s.id }));
    // A skey in a query parameter that is too long or malformed.
    invalidSession(await http('GET', `/user?X-WX-Skey=${'a'.repeat(5000)}`));
    invalidSession(await http('GET', `/user?X-WX-Skey=%zz`));
    assertUserAnswer(await getUser(s.headers));
  });

  it('an X-WX-Id that is not the skey\'s session: 401', async () => {
    const a = await session(uname('ida'));
    const b = await session(uname('idb'));
    invalidSession(await getUser({ 'X-WX-Id': b.id, 'X-WX-Skey': a.skey }));
    invalidSession(await getUser({ 'X-WX-Id': 'x'.repeat(32), 'X-WX-Skey': a.skey }));
    const a2 = await session(a.iss.userInfo.nickName); // another session of the same user
    invalidSession(await getUser({ 'X-WX-Id': a2.id, 'X-WX-Skey': a.skey }));
    assertUserAnswer(await getUser(a.headers));
    assertUserAnswer(await getUser(a2.headers));
  });

  it('an expired session: 401', async () => {
    const s = await session(uname('expired'));
    const other = await session(uname('still'));
    assertUserAnswer(await getUser(s.headers));
    sql(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = :'id'`, { id: s.id });
    invalidSession(await getUser(s.headers));
    invalidSession(await getUser({ 'X-WX-Skey': s.skey }));
    assertUserAnswer(await getUser(other.headers));
    // The login route does not take it for a valid session either.
    const again = await http('GET', '/login', { headers: s.headers });
    assert.notEqual(again.status, 200, again.text);
  });

  it('a revoked session: 401', async () => {
    const s = await session(uname('revoked'));
    sql(`UPDATE sessions SET revoked_at = now() WHERE id = :'id'`, { id: s.id });
    invalidSession(await getUser(s.headers));
    invalidSession(await getUser({ 'X-WX-Skey': s.skey }));
  });
});

describe('POST /logout', { timeout: 120000 }, () => {
  it('revokes this session only', async () => {
    const user = uname('logout');
    const s = await session(user);
    const other = await session(user);
    const res = await http('POST', '/logout', { headers: s.headers });
    assertJsonAnswer(res);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { code: 0, message: 'logged out' });
    const [[revoked, otherRevoked]] = sql(
      `SELECT (SELECT revoked_at IS NOT NULL FROM sessions WHERE id = :'a'),
              (SELECT revoked_at IS NOT NULL FROM sessions WHERE id = :'b')`, { a: s.id, b: other.id });
    assert.equal(revoked, 't');
    assert.equal(otherRevoked, 'f');
    invalidSession(await getUser(s.headers));
    invalidSession(await http('POST', '/logout', { headers: s.headers }));
    assertUserAnswer(await getUser(other.headers));
  });

  it('without a valid session: 401', async () => {
    invalidSession(await http('POST', '/logout'));
    invalidSession(await http('POST', '/logout', { headers: { 'X-WX-Skey': crypto.randomBytes(32).toString('hex') } }));
  });
});

describe('POST /user (profile)', { timeout: 120000 }, () => {
  it('sets nickname and avatar; GET and the database agree', async () => {
    const s = await session(uname('prof'));
    const avatar = `/files/${crypto.randomBytes(32).toString('hex')}.png`;
    const info = assertUserAnswer(await postUser(s.headers, { nickName: 'New Name', avatarUrl: avatar }),
      { uid: s.userInfo.uid, nickName: 'New Name', avatarUrl: avatar });
    assert.equal(info.city, 'Guangzhou');
    assertUserAnswer(await getUser(s.headers), { nickName: 'New Name', avatarUrl: avatar });
    assert.deepEqual(userRow(s.openid), { nickname: 'New Name', avatar });
  });

  it('either field alone leaves the other', async () => {
    const user = uname('half');
    const s = await session(user);
    assertUserAnswer(await postUser(s.headers, { nickName: 'Only Name' }), { nickName: 'Only Name', avatarUrl: s.iss.userInfo.avatarUrl });
    assertUserAnswer(await postUser(s.headers, { avatarUrl: '/files/a.jpg' }), { nickName: 'Only Name', avatarUrl: '/files/a.jpg' });
    assert.deepEqual(userRow(s.openid), { nickname: 'Only Name', avatar: '/files/a.jpg' });
  });

  it('nickName counts characters: 64 CJK characters fit, 65 do not', async () => {
    const s = await session(uname('cjk'));
    const n64 = '微'.repeat(64);
    assertUserAnswer(await postUser(s.headers, { nickName: n64 }), { nickName: n64 });
    badRequest(await postUser(s.headers, { nickName: '微'.repeat(65) }));
    badRequest(await postUser(s.headers, { nickName: 'x'.repeat(65) }));
    assertUserAnswer(await postUser(s.headers, { nickName: 'y'.repeat(64) }), { nickName: 'y'.repeat(64) });
    badRequest(await postUser(s.headers, { nickName: '' }));
    assert.equal(userRow(s.openid).nickname, 'y'.repeat(64));
  });

  it('invalid JSON or fields: 400 and nothing changes', async () => {
    const user = uname('badjson');
    const s = await session(user);
    const bodies = [
      '', '{', 'nickName=x', '{"nickName": "a",}', '[]', '"x"', 'null', '42',
      { nickName: 42 }, { nickName: null }, { avatarUrl: 7 }, { nickName: ['a'] }, { nickName: { a: 1 } },
    ];
    for (const body of bodies) badRequest(await postUser(s.headers, body));
    assertUserAnswer(await getUser(s.headers), { nickName: user });
    assert.equal(userRow(s.openid).nickname, user);
  });

  it('avatar URLs outside /files/ and path tricks: 400', async () => {
    const s = await session(uname('avatar'));
    const bad = [
      'https://evil.example/x.png', 'http://127.0.0.1/files/x.png', '//evil.example/files/x.png',
      'files/x.png', '/files', '/filesx/a.png', '/FILES/a.png', '/static/../files/a.png',
      '/files/../etc/passwd', '/files/a/../../x.png', '/files/..', '/files/a\\b.png', '/files/..\\x.png',
      '/files/%2e%2e/x.png', '/files/a%00.png', '/files/a b.png', '/files/a\tb.png',
      '/files/a\nb.png', '/files/a\u0000b.png', '/files/a\u007fb.png', ' /files/a.png', '/files/a.png ',
      'javascript:alert(1)',
    ];
    for (const avatarUrl of bad) {
      const res = await postUser(s.headers, { avatarUrl });
      assert.equal(res.status, 400, `${JSON.stringify(avatarUrl)} was accepted: ${res.text}`);
      badRequest(res);
    }
    assert.equal(userRow(s.openid).avatar, s.iss.userInfo.avatarUrl);
  });

  it('SQL text as a nickname is stored verbatim', async () => {
    const s = await session(uname('sqli'));
    for (const nick of ["Robert'); DROP TABLE users;--", "' OR '1'='1", 'a"; SELECT pg_sleep(0); --', '\\x00 $1 %s']) {
      assertUserAnswer(await postUser(s.headers, { nickName: nick }), { nickName: nick });
      assert.equal(userRow(s.openid).nickname, nick);
      assertUserAnswer(await getUser(s.headers), { nickName: nick });
    }
    assert.ok(Number(sql('SELECT count(*) FROM users')[0][0]) > 0);
  });

  it('without a valid session: 401', async () => {
    invalidSession(await postUser({}, { nickName: 'x' }));
    invalidSession(await postUser({ 'X-WX-Skey': crypto.randomBytes(32).toString('hex') }, { nickName: 'x' }));
  });
});

describe('wafer2 /weapp/user', { timeout: 120000 }, () => {
  it('skey only: code 0 and the user in data', async () => {
    const iss = await wxCode(uname('w2u'));
    const login = await http('GET', '/weapp/login', { headers: { 'X-WX-Code': iss.code } });
    assert.equal(login.status, 200, login.text);
    const { skey, userinfo } = login.json.data;
    const res = await http('GET', '/weapp/user', { headers: { 'X-WX-Skey': skey } });
    assertJsonAnswer(res);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.code, 0);
    assert.equal(res.json[MAGIC], undefined);
    assert.equal(res.json.data.uid, userinfo.uid);
    for (const k of ['nickName', 'avatarUrl', 'gender', 'language', 'city', 'province', 'country']) assert.ok(k in res.json.data, k);
  });

  it('invalid session: 401 with code -1', async () => {
    const iss = await wxCode(uname('w2bad'));
    const login = await http('GET', '/weapp/login', { headers: { 'X-WX-Code': iss.code } });
    const { skey } = login.json.data;
    const hash = crypto.createHash('sha256').update(skey).digest('hex');
    sql(`UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE skey_hash = decode(:'h', 'hex')`, { h: hash });
    for (const headers of [{}, { 'X-WX-Skey': skey }, { 'X-WX-Skey': crypto.randomBytes(32).toString('hex') }]) {
      const res = await http('GET', '/weapp/user', { headers });
      assertJsonAnswer(res);
      assert.equal(res.status, 401, res.text);
      assert.equal(res.json.code, -1);
      assert.equal(res.json.error, 'ERR_INVALID_SESSION');
    }
  });
});

describe('routing, methods and health', { timeout: 120000 }, () => {
  it('unknown paths: 404 JSON', async () => {
    for (const path of ['/weapp/nope', '/weapp/', '/weapp/login/extra', '/weapp/user.json']) {
      const res = await http('GET', path);
      assertJsonAnswer(res);
      assert.equal(res.status, 404, `${path}: ${res.text}`);
      assert.equal(res.json.error, 'ERR_NOT_FOUND');
    }
  });

  it('wrong methods: 405 JSON', async () => {
    for (const [method, path] of [['DELETE', '/user'], ['PUT', '/login'], ['GET', '/logout'], ['PATCH', '/user'], ['GET', '/upload'], ['DELETE', '/weapp/user']]) {
      const res = await http(method, path);
      assertJsonAnswer(res);
      assert.equal(res.status, 405, `${method} ${path}: ${res.text}`);
      assert.equal(res.json.error, 'ERR_METHOD_NOT_ALLOWED');
      if (!path.startsWith('/weapp/')) assert.equal(res.json[MAGIC], 1);
    }
  });

  it('/healthz: 200 {ok: true}', async () => {
    const res = await http('GET', '/healthz');
    assertJsonAnswer(res);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { ok: true });
  });
});
