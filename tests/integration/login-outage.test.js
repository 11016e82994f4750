// login-outage.test.js -- the login service while PostgreSQL is down: 503
// JSON answers on every route (/login, /user, /logout, /healthz, the wafer2
// routes), and normal service again once PostgreSQL is back, without
// restarting login-fcgi.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { stack, http, wxCode, MAGIC } = require('../lib/harness');

const RUN = crypto.randomBytes(3).toString('hex');

function assertJsonAnswer(res) {
  assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8', `content-type of: ${res.text}`);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.notEqual(res.json, undefined, `not JSON: ${res.text}`);
}

async function login(user, path = '/login') {
  const iss = await wxCode(user);
  return http('GET', path, { headers: { 'X-WX-Code': iss.code, 'X-WX-Encrypted-Data': iss.encryptedData, 'X-WX-IV': iss.iv } });
}

// Ask /healthz until it answers 200: reconnecting may take the service a
// few attempts. Returns the last answer.
async function healthzAfterRestart(tries = 60) {
  let res;
  for (let i = 0; i < tries; i++) {
    res = await http('GET', '/healthz');
    if (res.status === 200) return res;
    await new Promise((r) => setTimeout(r, 500));
  }
  return res;
}

describe('database down', { timeout: 120000 }, () => {
  it('503 JSON while PostgreSQL is stopped; works again after it restarts', async () => {
    const user = `outage-${RUN}`;
    const before = await login(user);
    assert.equal(before.status, 200, before.text);
    const headers = { 'X-WX-Id': before.json.session.id, 'X-WX-Skey': before.json.session.skey };
    const w2 = await http('GET', '/weapp/login', { headers: { 'X-WX-Code': (await wxCode(user)).code } });
    assert.equal(w2.status, 200, w2.text);

    stack('pg-stop');
    try {
      const health = await http('GET', '/healthz');
      assertJsonAnswer(health);
      assert.equal(health.status, 503, health.text);
      assert.equal(health.json.ok, false);
      assert.equal(health.json.error, 'ERR_UNAVAILABLE');
      assert.equal(typeof health.json.message, 'string');

      const res = await login(user);
      assertJsonAnswer(res);
      assert.equal(res.status, 503, res.text);
      assert.equal(res.json[MAGIC], 1);
      // login-api.md lists 503 among the /login failures (ERR_LOGIN_FAILED)
      // and ERR_UNAVAILABLE for "any other route": either is the contract.
      assert.ok(['ERR_LOGIN_FAILED', 'ERR_UNAVAILABLE'].includes(res.json.error), res.text);
      assert.equal(res.json.session, undefined);

      for (const [method, path] of [['GET', '/user'], ['POST', '/logout'], ['GET', '/login']]) {
        const r = await http(method, path, { headers });
        assertJsonAnswer(r);
        assert.equal(r.status, 503, `${method} ${path}: ${r.text}`);
        assert.equal(r.json[MAGIC], 1);
        assert.equal(r.json.error, 'ERR_UNAVAILABLE', `${method} ${path}: ${r.text}`);
      }
      const r2 = await http('GET', '/weapp/user', { headers: { 'X-WX-Skey': w2.json.data.skey } });
      assertJsonAnswer(r2);
      assert.equal(r2.status, 503, r2.text);
      assert.equal(r2.json.code, -1);
      assert.equal(r2.json.error, 'ERR_UNAVAILABLE');
      const l2 = await http('GET', '/weapp/login', { headers: { 'X-WX-Code': (await wxCode(user)).code } });
      assertJsonAnswer(l2);
      assert.equal(l2.status, 503, l2.text);
      assert.equal(l2.json.code, -1);
    } finally {
      stack('pg-start');
    }

    const health = await healthzAfterRestart();
    assert.equal(health.status, 200, `healthz after PostgreSQL restarted: ${health.text}`);
    assert.deepEqual(health.json, { ok: true });
    // The session from before the outage is still valid, and logins work.
    const user1 = await http('GET', '/user', { headers });
    assert.equal(user1.status, 200, user1.text);
    assert.equal(user1.json.data.userInfo.uid, before.json.userInfo.uid);
    const after = await login(user);
    assert.equal(after.status, 200, after.text);
    assert.equal(after.json.userInfo.uid, before.json.userInfo.uid);
    const w2after = await http('GET', '/weapp/user', { headers: { 'X-WX-Skey': w2.json.data.skey } });
    assert.equal(w2after.status, 200, w2after.text);
  });
});
