// login.test.js -- black-box tests of GET|POST /login and /weapp/login
// through nginx: successful logins (encrypted data, raw data + signature,
// code only), every failure of login-api.md with its status and error, and
// what the database holds afterwards (users by openid, sha256 skey hashes).
// WeChat is the stand-in (tools/wx-standin, a C program); everything else is real.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { env, sql, http, wxCode, MAGIC } = require('../lib/harness');
const { userNamer, assertJsonAnswer } = require('../lib/fixtures');

const uname = userNamer();


// The failure envelope of the wafer routes.
function assertLoginFailure(res, status, error = 'ERR_LOGIN_FAILED') {
  assertJsonAnswer(res);
  assert.equal(res.status, status, `status of ${res.text}`);
  assert.equal(res.json[MAGIC], 1, `MAGIC in ${res.text}`);
  assert.equal(res.json.error, error, res.text);
  assert.equal(typeof res.json.message, 'string');
  assert.ok(res.json.message.length > 0, 'a human readable message');
  assert.equal(res.json.session, undefined);
}

// Keys anywhere in a JSON value (lower-cased).
function allKeys(v, out = []) {
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.push(k.toLowerCase());
      allKeys(x, out);
    }
  }
  return out;
}

// No WeChat identifier or secret in an answer.
function assertNoSecrets(res, issuance) {
  const keys = allKeys(res.json);
  for (const k of ['openid', 'unionid', 'session_key', 'sessionkey', 'wx_session_key']) {
    assert.ok(!keys.includes(k), `answer has key ${k}: ${res.text}`);
  }
  if (issuance) assert.ok(!res.text.includes(issuance.openid), 'answer contains the openid');
  for (const [key] of sql('SELECT wx_session_key FROM sessions')) {
    assert.ok(!res.text.includes(key), 'answer contains a WeChat session_key');
  }
}

// Login parameters for an issuance: mode 'encrypted', 'raw', 'both' or 'code'.
function loginParams(iss, mode) {
  const p = { 'X-WX-Code': iss.code };
  if (mode === 'encrypted' || mode === 'both') Object.assign(p, { 'X-WX-Encrypted-Data': iss.encryptedData, 'X-WX-IV': iss.iv });
  if (mode === 'raw' || mode === 'both') Object.assign(p, { 'X-WX-Raw-Data': iss.rawData, 'X-WX-Signature': iss.signature });
  return p;
}

// Send login parameters as headers (default) or as query parameters.
function sendLogin(params, { via = 'header', method = 'GET', path = '/login', headers = {} } = {}) {
  if (via === 'query') {
    const q = new URLSearchParams(params).toString();
    return http(method, `${path}?${q}`, { headers });
  }
  return http(method, path, { headers: Object.assign({}, params, headers) });
}

// Obtain a code for `user` and log in; returns {res, iss}.
async function login(user, { mode = 'encrypted', codeOptions = {}, ...send } = {}) {
  const iss = await wxCode(user, codeOptions);
  const res = await sendLogin(loginParams(iss, mode), send);
  return { res, iss };
}

function assertSession(res) {
  assertJsonAnswer(res);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json[MAGIC], 1);
  assert.match(res.json.session.id, /^[0-9a-f]{32}$/);
  assert.match(res.json.session.skey, /^[0-9a-f]{64}$/);
  assert.equal(res.json.error, undefined);
}

const PROFILE_KEYS = ['uid', 'nickName', 'avatarUrl', 'gender', 'language', 'city', 'province', 'country'];

function assertUserInfo(userInfo, expected) {
  assert.ok(Number.isInteger(userInfo.uid) && userInfo.uid > 0, `uid ${userInfo.uid}`);
  for (const k of PROFILE_KEYS) assert.ok(k in userInfo, `userInfo.${k} missing`);
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(userInfo[k], v, `userInfo.${k}`);
}

function userRow(openid) {
  const rows = sql(`SELECT id, nickname, avatar_url, unionid, gender, city FROM users WHERE openid = :'openid'`, { openid });
  assert.equal(rows.length, 1, `one users row for ${openid}`);
  const [id, nickname, avatar, unionid, gender, city] = rows[0];
  return { id: Number(id), nickname, avatar, unionid, gender: Number(gender), city };
}

// The same bytes with bit `bit` of byte `index` flipped (base64 in and out).
function flipBase64(b64, index, mask = 1) {
  const buf = Buffer.from(b64, 'base64');
  buf[index < 0 ? buf.length + index : index] ^= mask;
  return buf.toString('base64');
}

describe('successful logins (wafer /login)', { timeout: 120000 }, () => {
  it('encrypted data: session, the decrypted profile, and nothing secret', async () => {
    const user = uname('enc');
    const { res, iss } = await login(user, { codeOptions: { gender: 1 } });
    assertSession(res);
    assertUserInfo(res.json.userInfo, {
      nickName: user, avatarUrl: iss.userInfo.avatarUrl, gender: 1, language: 'zh_CN',
      city: 'Guangzhou', province: 'Guangdong', country: 'CN',
    });
    assertNoSecrets(res, iss);
    const row = userRow(iss.openid);
    assert.equal(row.id, res.json.userInfo.uid);
    assert.equal(row.nickname, user);
    assert.equal(row.avatar, iss.userInfo.avatarUrl);
    assert.equal(row.unionid, null);
  });

  it('raw data + signature: the signed profile', async () => {
    const user = uname('raw');
    const { res, iss } = await login(user, { mode: 'raw', codeOptions: { nickName: `Signed ${user}` } });
    assertSession(res);
    assertUserInfo(res.json.userInfo, { nickName: `Signed ${user}`, city: 'Guangzhou', avatarUrl: iss.userInfo.avatarUrl });
    assertNoSecrets(res, iss);
    assert.equal(userRow(iss.openid).nickname, `Signed ${user}`);
  });

  it('raw data + signature and encrypted data together', async () => {
    const user = uname('both');
    const { res, iss } = await login(user, { mode: 'both' });
    assertSession(res);
    assertUserInfo(res.json.userInfo, { nickName: user });
    assertNoSecrets(res, iss);
  });

  it('code only: a new user with an empty profile', async () => {
    const user = uname('code');
    const { res, iss } = await login(user, { mode: 'code' });
    assertSession(res);
    assertUserInfo(res.json.userInfo, { nickName: '', avatarUrl: '' });
    assertNoSecrets(res, iss);
    const row = userRow(iss.openid);
    assert.equal(row.nickname, '');
    assert.equal(row.avatar, '');
  });

  it('code only for a known user keeps the stored profile', async () => {
    const user = uname('code2');
    const first = await login(user);
    assertSession(first.res);
    const { res } = await login(user, { mode: 'code' });
    assertSession(res);
    assertUserInfo(res.json.userInfo, { uid: first.res.json.userInfo.uid, nickName: user, avatarUrl: first.iss.userInfo.avatarUrl });
  });

  it('POST works like GET, and query parameters work with any case of name', async () => {
    const user = uname('post');
    const { res } = await login(user, { method: 'POST' });
    assertSession(res);
    const iss = await wxCode(user);
    const q = new URLSearchParams({ 'x-wx-code': iss.code, 'X-WX-ENCRYPTED-DATA': iss.encryptedData, 'x-Wx-Iv': iss.iv });
    const viaQuery = await http('GET', `/login?${q}`);
    assertSession(viaQuery);
    assert.equal(viaQuery.json.userInfo.uid, res.json.userInfo.uid);
    assert.equal(viaQuery.json.userInfo.nickName, user);
  });

  it('raw data with non-ASCII text as query parameters', async () => {
    const user = uname('utf8');
    const nick = `小明 ${user} 😀`;
    const { res, iss } = await login(user, { mode: 'raw', via: 'query', codeOptions: { nickName: nick } });
    assertSession(res);
    assert.equal(res.json.userInfo.nickName, nick);
    assert.equal(userRow(iss.openid).nickname, nick);
  });

  it('headers win over query parameters', async () => {
    const user = uname('hdr');
    const iss = await wxCode(user);
    const res = await http('GET', `/login?X-WX-Code=not-a-code`, { headers: loginParams(iss, 'encrypted') });
    assertSession(res);
    const iss2 = await wxCode(user);
    const bad = await http('GET', `/login?X-WX-Code=${iss2.code}`, { headers: { 'X-WX-Code': 'not-a-code' } });
    assertLoginFailure(bad, 401);
    assert.equal(bad.json.wxErrcode, 40029);
  });

  it('the same user twice has the same uid; another user another one', async () => {
    const user = uname('twice');
    const a = await login(user);
    const b = await login(user, { mode: 'raw' });
    const c = await login(uname('other'));
    assertSession(a.res); assertSession(b.res); assertSession(c.res);
    assert.equal(a.res.json.userInfo.uid, b.res.json.userInfo.uid);
    assert.notEqual(a.res.json.userInfo.uid, c.res.json.userInfo.uid);
    assert.equal(sql(`SELECT count(*) FROM users WHERE openid = :'o'`, { o: a.iss.openid })[0][0], '1');
  });

  it('every login gets a new session; only sha256(skey) is stored', async () => {
    const user = uname('skey');
    const sessions = [];
    for (let i = 0; i < 3; i++) {
      const { res } = await login(user, { mode: i === 2 ? 'code' : 'encrypted' });
      assertSession(res);
      sessions.push(res.json.session);
    }
    assert.equal(new Set(sessions.map((s) => s.skey)).size, 3);
    assert.equal(new Set(sessions.map((s) => s.id)).size, 3);
    for (const s of sessions) {
      const rows = sql(`SELECT encode(skey_hash, 'hex'), revoked_at IS NULL,
                               expires_at > now() + interval '23 hours',
                               expires_at < now() + interval '25 hours'
                        FROM sessions WHERE id = :'id'`, { id: s.id });
      assert.equal(rows.length, 1, 'one sessions row per login, keyed by the session id');
      assert.equal(rows[0][0], crypto.createHash('sha256').update(s.skey).digest('hex'));
      assert.deepEqual(rows[0].slice(1), ['t', 't', 't'], 'not revoked, expires in SESSION_TTL (24h)');
      // The skey itself appears in no column of any session row.
      const leaks = sql(`SELECT count(*) FROM sessions s WHERE position(:'skey' in s::text) > 0`, { skey: s.skey });
      assert.equal(leaks[0][0], '0');
    }
  });

  it('unionid is stored when WeChat gives one', async () => {
    const { res, iss } = await login(uname('union'), { codeOptions: { unionid: '1' } });
    assertSession(res);
    assertNoSecrets(res, iss);
    const row = userRow(iss.openid);
    assert.match(row.unionid || '', /^u[\w-]{27}$/);
    assert.ok(!res.text.includes(row.unionid), 'answer contains the unionid');
  });

  it('a valid skey and no code: already logged in', async () => {
    const { res } = await login(uname('already'));
    assertSession(res);
    const { id, skey } = res.json.session;
    for (const headers of [{ 'X-WX-Id': id, 'X-WX-Skey': skey }, { 'X-WX-Skey': skey }]) {
      const again = await http('GET', '/login', { headers });
      assertJsonAnswer(again);
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.json, { code: 0, message: 'already logged in' });
    }
  });
});

describe('placeholder profiles never overwrite a real one', { timeout: 120000 }, () => {
  for (const mode of ['encrypted', 'raw']) {
    it(`placeholder=1 with ${mode} data keeps the stored nickname and avatar`, async () => {
      const user = uname(`ph-${mode}`);
      const first = await login(user, { codeOptions: { nickName: `Real ${user}` } });
      assertSession(first.res);
      const before = userRow(first.iss.openid);
      assert.equal(before.nickname, `Real ${user}`);

      const { res, iss } = await login(user, { mode, via: 'query', codeOptions: { placeholder: '1' } });
      assert.equal(iss.userInfo.nickName, '微信用户');
      assertSession(res);
      assert.equal(res.json.userInfo.uid, first.res.json.userInfo.uid);
      assert.equal(res.json.userInfo.nickName, `Real ${user}`);
      assert.equal(res.json.userInfo.avatarUrl, first.iss.userInfo.avatarUrl);
      const after = userRow(iss.openid);
      assert.equal(after.nickname, `Real ${user}`);
      assert.equal(after.avatar, before.avatar);
    });
  }

  it('a real profile later replaces an empty one', async () => {
    const user = uname('ph-fill');
    const first = await login(user, { mode: 'code' });
    assertSession(first.res);
    const { res, iss } = await login(user, { codeOptions: { nickName: `Later ${user}` } });
    assertSession(res);
    assert.equal(res.json.userInfo.nickName, `Later ${user}`);
    assert.equal(userRow(iss.openid).nickname, `Later ${user}`);
  });
});

describe('login failures (wafer /login)', { timeout: 120000 }, () => {
  it('missing code: 400', async () => {
    assertLoginFailure(await http('GET', '/login'), 400);
    assertLoginFailure(await http('POST', '/login'), 400);
    const iss = await wxCode(uname('nocode'));
    assertLoginFailure(await http('GET', '/login', { headers: { 'X-WX-Encrypted-Data': iss.encryptedData, 'X-WX-IV': iss.iv } }), 400);
    assertLoginFailure(await http('GET', '/login', { headers: { 'X-WX-Code': '' } }), 400);
  });

  it('code: 128 characters reach WeChat, 129 are refused with 400', async () => {
    const at = await http('GET', '/login', { headers: { 'X-WX-Code': 'a'.repeat(128) } });
    assertLoginFailure(at, 401);
    assert.equal(at.json.wxErrcode, 40029);
    assertLoginFailure(await http('GET', '/login', { headers: { 'X-WX-Code': 'a'.repeat(129) } }), 400);
    assertLoginFailure(await http('GET', `/login?X-WX-Code=${'a'.repeat(129)}`), 400);
  });

  // Each case gets a fresh code, so the answer is about the parameters
  // whatever order the service checks things in.
  const badParams = [
    ['encrypted data over 16 KiB', { 'X-WX-Encrypted-Data': 'A'.repeat(16 * 1024 + 4) }],
    ['iv over 64', { 'X-WX-IV': 'A'.repeat(68) }],
    ['raw data over 8 KiB', { 'X-WX-Raw-Data': `{"nickName":"${'x'.repeat(8 * 1024)}"}` }],
    ['signature over 64', { 'X-WX-Signature': 'a'.repeat(65) }],
    ['encrypted data without iv', { 'X-WX-IV': undefined }],
    ['iv without encrypted data', { 'X-WX-Encrypted-Data': undefined }],
    ['raw data without signature', { 'X-WX-Signature': undefined }],
    ['signature without raw data', { 'X-WX-Raw-Data': undefined }],
    ['encrypted data without iv, raw data without signature', { 'X-WX-IV': undefined, 'X-WX-Signature': undefined }],
    ['encrypted data not base64', { 'X-WX-Encrypted-Data': 'not*base64!' }],
    ['encrypted data in the URL-safe alphabet', { 'X-WX-Encrypted-Data': (iss) => iss.encryptedData.slice(0, -4) + '-_-_' }],
    ['encrypted data of a length that is no multiple of 4', { 'X-WX-Encrypted-Data': (iss) => iss.encryptedData.slice(0, -1) }],
    ['iv with padding inside', { 'X-WX-IV': 'AAAAAAAAAAAAAAAAAAAAA=A=' }],
    ['iv not base64', { 'X-WX-IV': '%%%%' }],
  ];
  for (const [name, patch] of badParams) {
    it(`${name}: 400`, async () => {
      const iss = await wxCode(uname('param'));
      const params = loginParams(iss, 'both');
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) delete params[k];
        else params[k] = typeof v === 'function' ? v(iss) : v;
      }
      assertLoginFailure(await sendLogin(params), 400);
    });
  }

  it('an IV that is not 16 bytes: 400', async () => {
    for (const size of [0, 8, 15, 17, 32]) {
      const iss = await wxCode(uname('iv'));
      const iv = crypto.randomBytes(size).toString('base64');
      const res = await sendLogin({ 'X-WX-Code': iss.code, 'X-WX-Encrypted-Data': iss.encryptedData, 'X-WX-IV': iv });
      assertLoginFailure(res, 400);
    }
  });

  it('bad AES padding: 400', async () => {
    const user = uname('pad');
    const iss = await wxCode(user);
    // Rebuild the plaintext's length (the stand-in's layout) to know the
    // padding, then flip the previous block so the padding byte becomes 0.
    const plain = Object.assign({ openId: iss.openid }, iss.userInfo);
    plain.watermark = { timestamp: 1000000000, appid: env.WX_APPID };
    const len = Buffer.byteLength(JSON.stringify(plain));
    const pad = 16 - (len % 16);
    const data = Buffer.from(iss.encryptedData, 'base64');
    assert.equal(data.length, len + pad, 'the stand-in changed its plaintext layout');
    const forZero = flipBase64(iss.encryptedData, -17, pad);
    assertLoginFailure(await sendLogin({ 'X-WX-Code': iss.code, 'X-WX-Encrypted-Data': forZero, 'X-WX-IV': iss.iv }), 400);
    const iss2 = await wxCode(user);
    const len2 = Buffer.from(iss2.encryptedData, 'base64').length;
    assert.equal(len2, len + pad);
    const over16 = flipBase64(iss2.encryptedData, -17, pad ^ 0x20);
    assertLoginFailure(await sendLogin({ 'X-WX-Code': iss2.code, 'X-WX-Encrypted-Data': over16, 'X-WX-IV': iss2.iv }), 400);
    const iss3 = await wxCode(user);
    const truncated = Buffer.from(iss3.encryptedData, 'base64').subarray(0, -16).toString('base64');
    // Dropping the last block leaves JSON text where the padding should be.
    assertLoginFailure(await sendLogin({ 'X-WX-Code': iss3.code, 'X-WX-Encrypted-Data': truncated, 'X-WX-IV': iss3.iv }), 400);
    const iss4 = await wxCode(user);
    const ragged = Buffer.from(iss4.encryptedData, 'base64').subarray(0, -1).toString('base64');
    assertLoginFailure(await sendLogin({ 'X-WX-Code': iss4.code, 'X-WX-Encrypted-Data': ragged, 'X-WX-IV': iss4.iv }), 400);
  });

  it('tampered ciphertext or IV (plaintext not JSON): 400', async () => {
    const user = uname('tamper');
    const iss = await wxCode(user);
    // IV bit flip: the first plaintext byte '{' becomes 'z'.
    assertLoginFailure(await sendLogin({ 'X-WX-Code': iss.code, 'X-WX-Encrypted-Data': iss.encryptedData, 'X-WX-IV': flipBase64(iss.iv, 0) }), 400);
    const iss2 = await wxCode(user);
    // A changed first block turns 16 plaintext bytes into noise.
    assertLoginFailure(await sendLogin({ 'X-WX-Code': iss2.code, 'X-WX-Encrypted-Data': flipBase64(iss2.encryptedData, 3, 0x55), 'X-WX-IV': iss2.iv }), 400);
    // Someone else's encrypted data (another session_key).
    const iss3 = await wxCode(user);
    const other = await wxCode(user);
    const res = await sendLogin({ 'X-WX-Code': iss3.code, 'X-WX-Encrypted-Data': other.encryptedData, 'X-WX-IV': other.iv });
    assert.ok([400, 401].includes(res.status), res.text);
    assertLoginFailure(res, res.status);
  });

  it('watermark appid of another app: 401', async () => {
    const { res } = await login(uname('wm'), { codeOptions: { watermarkAppid: 'wx1111111111111111' } });
    assertLoginFailure(res, 401);
  });

  it('openId in the plaintext differs from the code\'s openid: 401', async () => {
    const victim = await wxCode(uname('victim'));
    const { res } = await login(uname('attacker'), { codeOptions: { openIdInPlaintext: victim.openid } });
    assertLoginFailure(res, 401);
    assert.equal(sql(`SELECT count(*) FROM users WHERE openid = :'o'`, { o: victim.openid })[0][0], '0');
  });

  it('bad signature: 401', async () => {
    const user = uname('sig');
    const iss = await wxCode(user);
    const wrong = crypto.createHash('sha1').update(iss.rawData + 'x').digest('hex');
    assertLoginFailure(await sendLogin({ 'X-WX-Code': iss.code, 'X-WX-Raw-Data': iss.rawData, 'X-WX-Signature': wrong }), 401);
    // Changed raw data under the original signature.
    const iss2 = await wxCode(user);
    const forged = iss2.rawData.replace(user, 'Admin');
    assertLoginFailure(await sendLogin({ 'X-WX-Code': iss2.code, 'X-WX-Raw-Data': forged, 'X-WX-Signature': iss2.signature }), 401);
    // The right length, one character changed.
    const iss3 = await wxCode(user);
    const res = await sendLogin({ 'X-WX-Code': iss3.code, 'X-WX-Raw-Data': iss3.rawData, 'X-WX-Signature': 'x' + iss3.signature.slice(1) });
    assertLoginFailure(res, 401);
  });

  it('WeChat refuses an unknown code: 401 with wxErrcode 40029', async () => {
    const res = await http('GET', '/login', { headers: { 'X-WX-Code': uname('never-issued') } });
    assertLoginFailure(res, 401);
    assert.equal(res.json.wxErrcode, 40029);
    assert.match(res.json.message, /40029/);
  });

  it('a code used twice: 401 with wxErrcode 40163', async () => {
    const user = uname('reuse');
    const { res, iss } = await login(user);
    assertSession(res);
    const again = await sendLogin(loginParams(iss, 'encrypted'));
    assertLoginFailure(again, 401);
    assert.equal(again.json.wxErrcode, 40163);
    assert.match(again.json.message, /40163/);
  });

  it('another WeChat errcode is passed on: 401', async () => {
    const { res } = await login(uname('errc'), { codeOptions: { reply: 'errcode:45011' } });
    assertLoginFailure(res, 401);
    assert.equal(res.json.wxErrcode, 45011);
    assert.match(res.json.message, /45011/);
  });

  it('WeChat answers HTTP 500: 502', async () => {
    const { res } = await login(uname('h500'), { codeOptions: { reply: 'http500' } });
    assertLoginFailure(res, 502);
  });

  it('WeChat answers something that is not JSON: 502', async () => {
    const { res } = await login(uname('garbage'), { codeOptions: { reply: 'garbage' } });
    assertLoginFailure(res, 502);
  });

  it('WeChat slower than WX_TIMEOUT (5 s): 504, and the service still answers', async () => {
    const { res } = await login(uname('slow'), { codeOptions: { delayMs: '8000' } });
    assertLoginFailure(res, 504);
    const { res: next } = await login(uname('after-slow'));
    assertSession(next);
  });
});

describe('wafer2 /weapp/login', { timeout: 120000 }, () => {
  it('code only: code 0, userinfo, skey and time; a new user', async () => {
    const user = uname('w2');
    const { res, iss } = await login(user, { mode: 'code', path: '/weapp/login' });
    assertJsonAnswer(res);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.code, 0);
    assert.equal(res.json[MAGIC], undefined, 'no MAGIC key in a success body');
    const d = res.json.data;
    assert.match(d.skey, /^[0-9a-f]{64}$/);
    assert.ok(Number.isInteger(d.time));
    assert.ok(Math.abs(d.time - Date.now() / 1000) < 600, `time ${d.time} is unix seconds of now`);
    assertUserInfo(d.userinfo, { nickName: '' });
    assertNoSecrets(res, iss);
    const hash = crypto.createHash('sha256').update(d.skey).digest('hex');
    const rows = sql(`SELECT u.openid FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.skey_hash = decode(:'h', 'hex')`, { h: hash });
    assert.deepEqual(rows, [[iss.openid]]);
  });

  it('with encrypted data: the profile; same uid as the wafer route', async () => {
    const user = uname('w2enc');
    const a = await login(user, { path: '/weapp/login' });
    assert.equal(a.res.status, 200, a.res.text);
    assertUserInfo(a.res.json.data.userinfo, { nickName: user, city: 'Guangzhou' });
    const b = await login(user);
    assertSession(b.res);
    assert.equal(b.res.json.userInfo.uid, a.res.json.data.userinfo.uid);
  });

  it('failures use the wafer2 envelope', async () => {
    const cases = [
      [await http('GET', '/weapp/login'), 400],
      [await http('GET', '/weapp/login', { headers: { 'X-WX-Code': uname('never') } }), 401],
      [(await login(uname('w2wm'), { path: '/weapp/login', codeOptions: { watermarkAppid: 'wxother' } })).res, 401],
      [(await login(uname('w2g'), { path: '/weapp/login', mode: 'code', codeOptions: { reply: 'garbage' } })).res, 502],
    ];
    for (const [res, status] of cases) {
      assertJsonAnswer(res);
      assert.equal(res.status, status, res.text);
      assert.equal(res.json.code, -1, res.text);
      assert.equal(res.json.error, 'ERR_LOGIN_FAILED');
      assert.equal(res.json.data, undefined);
    }
    assert.equal(cases[1][0].json.wxErrcode, 40029);
  });
});
