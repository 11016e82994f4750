// faults_login.test.js -- login-fcgi killed with SIGKILL while mini-programs
// use it (GET /user in a loop) and chat: nginx answers every login route with
// a 502 JSON body at once (never an HTML page, never a hang), the chat goes
// on untouched (the relay does not need the login service), and once
// login-fcgi is started again the sessions from before are still valid,
// new logins work, and no request fails any more. And a proxy in
// login-fcgi's environment is not used for an http:// WeChat base.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const { env, stack, wxCode, MAGIC } = require('../lib/harness');
const { roomMessages, roomRow } = require('../lib/sessions');
const { chatBase, uniqueRoom } = require('../lib/chat-client');
const { SteadyClient, drive, settle, checkViews, totals, stackAsync, waitStatus } = require('../lib/steady-client');

const RUN = crypto.randomBytes(3).toString('hex');

// One HTTP request through nginx, bounded: {status, type, json, text} or {status: 'hang'}.
async function request(method, path, headers = {}, body) {
  try {
    const res = await fetch(env.BASE_URL + path, { method, headers, body, signal: AbortSignal.timeout(10000) });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, type: res.headers.get('content-type') || '', json, text, path };
  } catch (e) {
    return { status: e.name === 'TimeoutError' ? 'hang' : `error ${e.message} ${e.cause && (e.cause.code || e.cause.message)}`, path };
  }
}

// POST /upload with a streamed (chunked) multipart body, like wx.uploadFile,
// on a connection of its own: nginx answers 502 before reading such a body
// and then closes that keep-alive connection (its own behaviour), which must
// not be mistaken for a failure of the next request that reuses it.
function uploadAlone(headers) {
  return new Promise((resolve) => {
    const req = http.request(`${env.BASE_URL}/upload`, {
      method: 'POST', agent: false, timeout: 10000,
      headers: Object.assign({ 'Content-Type': 'multipart/form-data; boundary=b', 'Transfer-Encoding': 'chunked' }, headers),
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, type: res.headers['content-type'] || '', json, text, path: '/upload' });
      });
    });
    req.on('timeout', () => { req.destroy(); resolve({ status: 'hang', path: '/upload' }); });
    req.on('error', (e) => resolve({ status: `error ${e.message}`, path: '/upload' }));
    req.end('--b\r\nContent-Disposition: form-data; name="file"; filename="a.gif"\r\nContent-Type: image/gif\r\n\r\nGIF89a\r\n--b--\r\n');
  });
}

async function login(user) {
  const iss = await wxCode(user);
  const res = await request('GET', '/login', { 'X-WX-Code': iss.code, 'X-WX-Encrypted-Data': iss.encryptedData, 'X-WX-IV': iss.iv });
  assert.equal(res.status, 200, res.text);
  return { uid: res.json.userInfo.uid, id: res.json.session.id, skey: res.json.session.skey };
}

const headersOf = (s) => ({ 'X-WX-Id': s.id, 'X-WX-Skey': s.skey });

function assertBadGateway(res) {
  assert.equal(res.status, 502, `${res.path}: ${res.status} ${res.text}`);
  assert.match(res.type, /^application\/json/, `${res.path}: ${res.text}`);
  assert.ok(res.json, `${res.path}: not JSON: ${res.text}`);
  assert.equal(res.json[MAGIC], 1, res.text);
  assert.equal(res.json.error, 'ERR_BAD_GATEWAY', res.text);
}

test('login-fcgi killed with SIGKILL: 502 JSON at once, chat unaffected, back by itself after a restart', { timeout: 120000 }, async (t) => {
  const sessions = [];
  for (let i = 0; i < 4; i++) sessions.push(await login(`lkill-${RUN}-${i}`));
  const room = uniqueRoom('loginkill');
  const clients = sessions.map((s, i) => new SteadyClient({ base: chatBase('nginx'), session: s, room, label: `lk${i}` }));
  t.after(() => clients.forEach((c) => c.close()));
  await Promise.all(clients.map((c) => c.connect()));

  // mini-programs asking GET /user all along
  const answers = [];
  let polling = true;
  const pollers = sessions.map(async (s) => {
    while (polling) {
      answers.push(await request('GET', '/user', headersOf(s)));
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  const stopped = [];
  try {
    assert.ok(await drive(clients, { timeout: 10000, until: () => clients.every((c) => c.acks.size >= 2) }));
    stopped.push('login');
    const kill = stackAsync(env.STACK_DIR, 'svc-stop', 'login', 'KILL');
    kill.then(() => { kill.done = true; }, () => { kill.done = true; });
    await drive(clients, { timeout: 30000, until: () => kill.done });
    await kill;
    // every route of the login service: 502 JSON
    const code = await wxCode(`lkill-${RUN}-new`);
    for (const res of [
      await request('GET', '/login', { 'X-WX-Code': code.code }),
      await request('GET', '/user', headersOf(sessions[0])),
      await request('POST', '/user', Object.assign({ 'Content-Type': 'application/json' }, headersOf(sessions[0])), '{"nickName":"x"}'),
      await request('POST', '/logout', headersOf(sessions[0])),
      await uploadAlone(headersOf(sessions[0])),
      await request('GET', '/healthz'),
      await request('GET', '/weapp/login', { 'X-WX-Code': code.code }),
      await request('GET', '/weapp/user', { 'X-WX-Skey': sessions[0].skey }),
    ]) assertBadGateway(res);
    // the chat does not need the login service
    const acked = clients.reduce((n, c) => n + c.acks.size, 0);
    assert.ok(await drive(clients, { timeout: 10000, until: () => clients.reduce((n, c) => n + c.acks.size, 0) >= acked + 8 }),
              'messages are acknowledged while login-fcgi is down');
  } finally {
    for (const name of stopped) stack('svc-start', name);
  }
  assert.equal(await waitStatus(`${env.BASE_URL}/healthz`, 200, 30000), 200, 'login-fcgi answers again');
  polling = false;
  await Promise.all(pollers);
  // from now on every request succeeds (no stale connection between nginx and login-fcgi)
  for (let i = 0; i < 10; i++) {
    for (const s of sessions) {
      const res = await request('GET', '/user', headersOf(s));
      assert.equal(res.status, 200, `session from before the kill: ${res.text}`);
      assert.equal(res.json.data.userInfo.uid, s.uid);
    }
  }
  const again = await login(`lkill-${RUN}-0`);
  assert.equal(again.uid, sessions[0].uid, 'a new login finds the same user');
  // what the pollers saw: 200, or 502 JSON while it was down; nothing else, never a hang
  const kinds = {};
  for (const a of answers) {
    const k = a.status === 200 ? '200' : a.status === 502 && /^application\/json/.test(a.type) && a.json && a.json.error === 'ERR_BAD_GATEWAY'
      ? '502 json' : `${a.status} ${a.type} ${String(a.text).slice(0, 60)}`;
    kinds[k] = (kinds[k] || 0) + 1;
  }
  t.diagnostic(`GET /user answers during the test: ${JSON.stringify(kinds)}`);

  assert.deepEqual(Object.keys(kinds).filter((k) => k !== '200' && k !== '502 json'), [], 'only 200 or 502 JSON');
  assert.ok(kinds['502 json'] > 0, 'the pollers noticed the outage');

  assert.ok(await settle(clients, () => ({ [room]: roomRow(room).lastSeq })));
  assert.deepEqual(totals(clients, 'refusals'), {}, 'no chat message was refused');
  assert.deepEqual(totals(clients, 'closes'), {}, 'no chat connection was lost');
  assert.deepEqual(checkViews(clients, { [room]: roomMessages(room) }), []);
});

// An http:// WX_API_BASE (the stand-in here) is reached directly, even with
// a proxy in login-fcgi's environment: the exchange sends only a request
// target, which a plain-HTTP forward proxy could not route (docs/login.md).
// The proxy named here refuses connections, so a login through it fails.
test('a proxy in login-fcgi\'s environment is not used for an http:// WeChat base', { timeout: 60000 }, async () => {
  const PROXY_VARS = ['http_proxy', 'all_proxy', 'ALL_PROXY'];
  assert.match(env.WX_API_BASE || 'http://', /^http:\/\//, 'the stack uses an http:// stand-in');
  stack('svc-stop', 'login');
  try {
    for (const v of PROXY_VARS) process.env[v] = 'http://127.0.0.1:9';
    stack('svc-start', 'login');
  } finally {
    for (const v of PROXY_VARS) delete process.env[v];
  }
  try {
    assert.equal(await waitStatus(`${env.BASE_URL}/healthz`, 200, 30000), 200, 'login-fcgi answers');
    const s = await login(`proxy-${RUN}`);
    assert.ok(s.uid > 0);
  } finally {
    stack('svc-stop', 'login');
    stack('svc-start', 'login');
    assert.equal(await waitStatus(`${env.BASE_URL}/healthz`, 200, 30000), 200, 'login-fcgi answers again');
  }
});
