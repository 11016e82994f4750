// wafer.test.js -- the real wafer-client-sdk@0.8.4, unmodified, running in
// Node through tests/lib/wx-shim.js against the whole stack (nginx,
// login-fcgi, PostgreSQL, the WeChat stand-in): login, authenticated
// requests, and the SDK's own recovery when the server-side session has
// expired or was revoked.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { env, sql } = require('../lib/harness');
const { createClient } = require('../lib/wx-shim');
const { userNamer, sessionRow, uidOf, requestTrail, SDK_SESSION_KEY } = require('../lib/fixtures');

const uname = userNamer();
const SESSION_KEY = SDK_SESSION_KEY;

function waferClient(user, codeOptions) {
  const c = createClient({ sdk: 'wafer', user, codeOptions });
  c.sdk.setLoginUrl(`${env.BASE_URL}/login`);
  return c;
}

const trail = requestTrail;

describe('wafer-client-sdk 0.8.4', { timeout: 120000 }, () => {
  it('login() succeeds with the user info and stores a working session', async () => {
    const user = uname('login');
    const c = waferClient(user);
    const userInfo = await c.login();
    assert.equal(userInfo.nickName, user);
    assert.equal(userInfo.city, 'Guangzhou');
    const stored = c.wx.getStorageSync(SESSION_KEY);
    assert.match(stored.id, /^[0-9a-f]{32}$/);
    assert.match(stored.skey, /^[0-9a-f]{64}$/);
    const row = sessionRow(stored.skey);
    assert.ok(row, 'the stored skey names a session in the database');
    assert.equal(row.id, stored.id);
    assert.equal(row.uid, uidOf(c.shim.issued[0].openid));
    assert.deepEqual(trail(c), ['GET /login 200']);
  });

  it('request({login: true}) returns the user; later requests reuse the session', async () => {
    const user = uname('req');
    const c = waferClient(user);
    const res = await c.request({ login: true, url: `${env.BASE_URL}/user` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.data.code, 0);
    assert.equal(res.data.data.userInfo.nickName, user);
    assert.equal(res.data.data.userInfo.uid, uidOf(c.shim.issued[0].openid));
    const again = await c.request({ login: true, url: `${env.BASE_URL}/user` });
    assert.equal(again.data.data.userInfo.uid, res.data.data.userInfo.uid);
    assert.equal(c.shim.issued.length, 1, 'no second wx.login');
    assert.deepEqual(trail(c), ['GET /login 200', 'GET /user 200', 'GET /user 200']);
  });

  it('POST /user through wafer.request updates the profile', async () => {
    const c = waferClient(uname('post'));
    await c.login();
    const res = await c.request({ login: true, url: `${env.BASE_URL}/user`, method: 'POST', data: { nickName: 'Via SDK' } });
    assert.equal(res.statusCode, 200, JSON.stringify(res.data));
    assert.equal(res.data.data.userInfo.nickName, 'Via SDK');
  });

  for (const how of ['expired', 'revoked by POST /logout']) {
    it(`a session ${how} on the server: the SDK logs in again by itself`, async () => {
      const user = uname('relogin');
      const c = waferClient(user);
      await c.login();
      const old = c.wx.getStorageSync(SESSION_KEY);
      if (how === 'expired') {
        sql(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = :'id'`, { id: old.id });
      } else {
        const out = await c.request({ url: `${env.BASE_URL}/logout`, method: 'POST' });
        assert.equal(out.statusCode, 200);
        assert.deepEqual(out.data, { code: 0, message: 'logged out' });
        assert.equal(sessionRow(old.skey).revoked, true);
      }
      const mark = c.shim.requests.length;
      const res = await c.request({ login: true, url: `${env.BASE_URL}/user` });
      assert.equal(res.statusCode, 200);
      assert.equal(res.data.data.userInfo.nickName, user);
      assert.deepEqual(trail(c, mark), ['GET /user 401', 'GET /login 200', 'GET /user 200']);
      assert.equal(c.shim.issued.length, 2, 'one new wx.login');

      const now = c.wx.getStorageSync(SESSION_KEY);
      assert.notEqual(now.id, old.id);
      assert.notEqual(now.skey, old.skey);
      const row = sessionRow(now.skey);
      assert.ok(row, 'a NEW session row exists');
      assert.equal(row.id, now.id);
      assert.equal(row.revoked, false);
      assert.equal(row.expired, false);
      assert.equal(row.uid, uidOf(c.shim.issued[0].openid));
      const oldRow = sessionRow(old.skey);
      assert.ok(oldRow.revoked || oldRow.expired);
    });
  }

  it('a refused code reaches the SDK as a login failure with the server\'s reason', async () => {
    const c = waferClient(uname('refused'), { reply: 'errcode:40029' });
    await assert.rejects(c.login(), (err) => {
      assert.equal(err.type, c.sdk.ERR_LOGIN_SESSION_NOT_RECEIVED);
      assert.match(err.message, /ERR_LOGIN_FAILED/);
      assert.match(err.message, /40029/);
      return true;
    });
    assert.equal(c.wx.getStorageSync(SESSION_KEY), '');
  });

  it('two clients at once keep separate sessions and users', async () => {
    const a = waferClient(uname('alice'));
    const b = waferClient(uname('bob'));
    const [ra, rb] = await Promise.all([
      a.request({ login: true, url: `${env.BASE_URL}/user` }),
      b.request({ login: true, url: `${env.BASE_URL}/user` }),
    ]);
    assert.equal(ra.data.data.userInfo.nickName, a.user);
    assert.equal(rb.data.data.userInfo.nickName, b.user);
    assert.notEqual(ra.data.data.userInfo.uid, rb.data.data.userInfo.uid);
    assert.notEqual(a.wx.getStorageSync(SESSION_KEY).skey, b.wx.getStorageSync(SESSION_KEY).skey);
  });
});
