// wafer2.test.js -- the real wafer2-client-sdk@2.1.0, unmodified, running in
// Node through tests/lib/wx-shim.js against /weapp/login and /weapp/user:
// login with user data, loginWithCode (code only), and the SDK's re-login
// when a request sees 401 because the session expired or was revoked.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { env, sql, http } = require('../lib/harness');
const { createClient } = require('../lib/wx-shim');
const { userNamer, sessionRow, uidOf, requestTrail, SDK_SESSION_KEY } = require('../lib/fixtures');

const uname = userNamer();
const SESSION_KEY = SDK_SESSION_KEY;

function wafer2Client(user, codeOptions) {
  const c = createClient({ sdk: 'wafer2', user, codeOptions });
  c.sdk.setLoginUrl(`${env.BASE_URL}/weapp/login`);
  return c;
}

const trail = requestTrail;

describe('wafer2-client-sdk 2.1.0', { timeout: 120000 }, () => {
  it('login() with user data: the server\'s userinfo and a stored skey', async () => {
    const user = uname('login');
    const c = wafer2Client(user);
    const userinfo = await c.login();
    assert.equal(userinfo.nickName, user);
    assert.equal(userinfo.uid, uidOf(c.shim.issued[0].openid));
    const stored = c.wx.getStorageSync(SESSION_KEY);
    assert.match(stored.skey, /^[0-9a-f]{64}$/);
    assert.ok(Number.isInteger(stored.time));
    assert.deepEqual(stored.userinfo, userinfo);
    assert.equal(sessionRow(stored.skey).uid, userinfo.uid);
  });

  it('loginWithCode() creates a new user with an empty profile', async () => {
    const c = wafer2Client(uname('code'));
    const userinfo = await c.loginWithCode();
    assert.equal(userinfo.nickName, '');
    assert.equal(userinfo.avatarUrl, '');
    assert.equal(userinfo.uid, uidOf(c.shim.issued[0].openid));
    assert.deepEqual(trail(c), ['GET /weapp/login 200']);
  });

  it('loginWithCode() of a known user returns the stored profile', async () => {
    const user = uname('known');
    const first = wafer2Client(user);
    const info1 = await first.login();
    const second = wafer2Client(user);
    const info2 = await second.loginWithCode();
    assert.equal(info2.uid, info1.uid);
    assert.equal(info2.nickName, user);
  });

  it('request({login: true}) logs in with the code and returns the user', async () => {
    const c = wafer2Client(uname('req'));
    const res = await c.request({ login: true, url: `${env.BASE_URL}/weapp/user` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.data.code, 0);
    assert.equal(res.data.data.uid, uidOf(c.shim.issued[0].openid));
    assert.deepEqual(trail(c), ['GET /weapp/login 200', 'GET /weapp/user 200']);
  });

  for (const how of ['expired', 'revoked']) {
    it(`a session ${how} on the server: the request sees 401, logs in again and succeeds`, async () => {
      const c = wafer2Client(uname('relogin'));
      const info = await c.loginWithCode();
      const old = c.wx.getStorageSync(SESSION_KEY);
      const first = await c.request({ url: `${env.BASE_URL}/weapp/user` });
      assert.equal(first.statusCode, 200);
      if (how === 'expired') {
        const hash = crypto.createHash('sha256').update(old.skey).digest('hex');
        sql(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE skey_hash = decode(:'h', 'hex')`, { h: hash });
      } else {
        const out = await http('POST', '/logout', { headers: { 'X-WX-Skey': old.skey } });
        assert.equal(out.status, 200, out.text);
      }
      const mark = c.shim.requests.length;
      const res = await c.request({ url: `${env.BASE_URL}/weapp/user` });
      assert.equal(res.statusCode, 200);
      assert.equal(res.data.code, 0);
      assert.equal(res.data.data.uid, info.uid);
      assert.deepEqual(trail(c, mark), ['GET /weapp/user 401', 'GET /weapp/login 200', 'GET /weapp/user 200']);
      const now = c.wx.getStorageSync(SESSION_KEY);
      assert.notEqual(now.skey, old.skey);
      const row = sessionRow(now.skey);
      assert.ok(row, 'a NEW session row exists');
      assert.equal(row.revoked, false);
      assert.equal(row.expired, false);
      assert.equal(row.uid, info.uid);
      assert.notEqual(row.id, sessionRow(old.skey).id);
    });
  }

  it('a refused code fails loginWithCode', async () => {
    const c = wafer2Client(uname('refused'), { reply: 'errcode:40029' });
    await assert.rejects(c.loginWithCode(), /请先使用 login\(\) 登录/);
    assert.equal(c.wx.getStorageSync(SESSION_KEY), '');
    assert.deepEqual(trail(c), ['GET /weapp/login 401']);
  });
});
