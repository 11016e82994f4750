// security_leaks.test.js -- what WeChat gives the server stays on the
// server: after logins of every kind (encrypted data, raw data + signature,
// code only, wafer2, with a unionid, failed ones), profile and upload
// requests, chat traffic, history replays and a logout, no openid, unionid,
// WeChat session_key (read from the sessions table as admin: the stand-in
// never reveals it) or app secret appears in any HTTP answer, any WebSocket
// frame, or any line the stack logged; no skey appears in the programs' logs.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { env, sql, http, wxCode } = require('../lib/harness');
const { ChatClient, closeAll, uniqueRoom, newCid } = require('../lib/chat-client');

const RUN = crypto.randomBytes(3).toString('hex');

// Every log file of the stack: the programs' own (log/*.log) and nginx's.
// The WeChat stand-in's log is WeChat's side of the exchange, not ours.
function stackLogs() {
  const files = [];
  for (const dir of [path.join(env.STACK_DIR, 'log'), path.join(env.STACK_DIR, 'nginx')]) {
    for (const f of fs.readdirSync(dir)) {
      if (f.endsWith('.log') && f !== 'standin.log') files.push(path.join(dir, f));
    }
  }
  return files.map((f) => ({ file: f, text: fs.readFileSync(f, 'latin1') }));
}

test('openid, unionid, WeChat session_key and the app secret appear in no answer, no frame and no log line', { timeout: 120000 }, async (t) => {
  const seen = [];   // every answer and frame a client received: {what, text}
  const answer = async (what, method, p, opts) => {
    const res = await http(method, p, opts);
    const headers = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
    seen.push({ what, text: `${res.status}\n${headers}\n${res.text}` });
    return res;
  };
  const users = [];
  const loginAs = async (user, mode, codeOptions = {}) => {
    const iss = await wxCode(user, codeOptions);
    const headers = { 'X-WX-Code': iss.code };
    if (mode === 'encrypted' || mode === 'both') Object.assign(headers, { 'X-WX-Encrypted-Data': iss.encryptedData, 'X-WX-IV': iss.iv });
    if (mode === 'raw' || mode === 'both') Object.assign(headers, { 'X-WX-Raw-Data': iss.rawData, 'X-WX-Signature': iss.signature });
    const route = mode === 'wafer2' ? '/weapp/login' : '/login';
    const res = await answer(`${route} ${mode}`, 'GET', route, { headers });
    assert.equal(res.status, 200, res.text);
    const skey = mode === 'wafer2' ? res.json.data.skey : res.json.session.skey;
    const u = { user, openid: iss.openid, skey, headers: { 'X-WX-Skey': skey } };
    users.push(u);
    return u;
  };
  const a = await loginAs(`leak-a-${RUN}`, 'encrypted', { unionid: '1' });
  const b = await loginAs(`leak-b-${RUN}`, 'both');
  const c = await loginAs(`leak-c-${RUN}`, 'wafer2');
  await loginAs(`leak-a-${RUN}`, 'wafer2', { unionid: '1' });
  await loginAs(`leak-d-${RUN}`, 'encrypted');

  // failures after the code exchange succeeded (the server held the session_key)
  const bad = await wxCode(`leak-e-${RUN}`);
  const badSig = await answer('/login bad signature', 'GET', '/login', {
    headers: { 'X-WX-Code': bad.code, 'X-WX-Raw-Data': bad.rawData, 'X-WX-Signature': '0'.repeat(40) },
  });
  assert.equal(badSig.status, 401, badSig.text);
  const bad2 = await wxCode(`leak-f-${RUN}`, { watermarkAppid: 'wx_other_app' });
  assert.equal((await answer('/login bad watermark', 'GET', '/login', {
    headers: { 'X-WX-Code': bad2.code, 'X-WX-Encrypted-Data': bad2.encryptedData, 'X-WX-IV': bad2.iv },
  })).status, 401);
  const bad3 = await wxCode(`leak-g-${RUN}`, { openIdInPlaintext: 'oSomeoneElse' });
  assert.equal((await answer('/login openId mismatch', 'GET', '/login', {
    headers: { 'X-WX-Code': bad3.code, 'X-WX-Encrypted-Data': bad3.encryptedData, 'X-WX-IV': bad3.iv },
  })).status, 401);
  const used = await answer('/login code used twice', 'GET', '/login', { headers: { 'X-WX-Code': bad.code } });
  assert.equal(used.status, 401);

  // the other routes
  await answer('GET /user', 'GET', '/user', { headers: a.headers });
  await answer('POST /user', 'POST', '/user', { headers: Object.assign({ 'Content-Type': 'application/json' }, b.headers), body: '{"nickName":"Bee"}' });
  await answer('GET /weapp/user', 'GET', '/weapp/user', { headers: c.headers });
  await answer('GET /login already', 'GET', '/login', { headers: a.headers });
  await answer('GET /user bad', 'GET', '/user', { headers: { 'X-WX-Skey': '0'.repeat(64) } });
  const gif = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
  const form = new FormData();
  form.append('file', new Blob([gif], { type: 'image/gif' }), 'a.gif');
  const up = await answer('POST /upload', 'POST', '/upload', { headers: a.headers, body: form });
  assert.equal(up.status, 200, up.text);

  // the chat: messages, images, joins and leaves, a history replay, a revocation
  const room = uniqueRoom('leak');
  const ca = await ChatClient.join({ skey: a.skey }, { room, label: 'a' });
  const cb = await ChatClient.join({ skey: b.skey }, { room, label: 'b' });
  let cc;
  t.after(() => closeAll(ca, cb, cc));
  await ca.say('hello from a');
  await cb.say('hello from b');
  const cid = newCid();
  ca.send({ gallery: true, url: up.json.url, cid });
  await cb.waitFor((f) => f.cid === cid, { what: 'the image' });
  cc = await ChatClient.join({ skey: c.skey }, { room, label: 'c' });   // history replay
  await cc.waitFor((f) => f.history && f.cid === cid, { what: 'the replayed image' });
  ca.send({ text: true, content: '', cid: newCid() });                  // an error frame
  await ca.waitFor((f) => f.type === 'error', { what: 'the error' });
  await answer('POST /logout', 'POST', '/logout', { headers: b.headers }); // revocation -> 4401
  await cb.waitClose(10000);
  cc.close();
  await ca.waitFor((f) => f.event === 'leave', { what: 'a leave event', from: ca.mark() - 1 }).catch(() => {});
  for (const client of [ca, cb, cc]) {
    seen.push({ what: `frames of ${client.label}`, text: client.frames.map((f) => JSON.stringify(f)).join('\n') });
  }

  // what must not leak, as the server knows it
  const openids = users.map((u) => u.openid).concat([bad.openid, bad2.openid, bad3.openid]);
  const uids = sql(`SELECT id FROM users WHERE openid = ANY(string_to_array(:'o', ','))`, { o: openids.join(',') }).map((r) => r[0]);
  const keys = sql(`SELECT DISTINCT wx_session_key FROM sessions WHERE user_id = ANY(string_to_array(:'u', ',')::bigint[])`,
                   { u: uids.join(',') }).map((r) => r[0]);
  const unionids = sql(`SELECT unionid FROM users WHERE unionid IS NOT NULL AND openid = ANY(string_to_array(:'o', ','))`,
                       { o: openids.join(',') }).map((r) => r[0]);
  assert.ok(keys.length >= 4 && keys.every((k) => Buffer.from(k, 'base64').length === 16), `session keys read back: ${keys.length}`);
  assert.ok(unionids.length >= 1, 'a unionid was stored');
  const secrets = [];
  for (const o of openids) secrets.push(['openid', o]);
  for (const u of unionids) secrets.push(['unionid', u]);
  for (const k of keys) {
    secrets.push(['session_key', k], ['session_key (url-safe)', k.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')],
                 ['session_key (hex)', Buffer.from(k, 'base64').toString('hex')]);
  }
  secrets.push(['app secret', env.WX_SECRET]);

  const leaks = [];
  for (const { what, text } of seen) {
    for (const [kind, value] of secrets) if (text.includes(value)) leaks.push(`${kind} in ${what}`);
  }
  const logs = stackLogs();
  assert.ok(logs.some((l) => /login\.log$/.test(l.file) && l.text.includes('/login')), 'login-fcgi logged requests');
  for (const { file, text } of logs) {
    for (const [kind, value] of secrets) if (text.includes(value)) leaks.push(`${kind} in ${path.relative(env.STACK_DIR, file)}`);
    // skeys: never in the programs' logs nor nginx's access log (it logs $uri
    // without the query); nginx's error log may quote a request line (see
    // docs/guarantees.md).
    if (!/nginx-error\.log$/.test(file)) {
      for (const u of users) if (text.includes(u.skey)) leaks.push(`skey in ${path.relative(env.STACK_DIR, file)}`);
    }
  }
  assert.deepEqual([...new Set(leaks)], []);
});
