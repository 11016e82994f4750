// standin.test.js -- the WeChat stand-in (tools/wx-standin) itself, over raw
// TCP straight to STANDIN_ADDR: keep-alive and HTTP/1.0, pipelined requests
// answered in order (also behind a delayed exchange), a delayed exchange
// that holds up no other connection, bodies drained, the limits (head
// 16 KiB: 431; body 1 MiB: 413; chunked, bare LF, garbage: 400) and
// jscode2session's checks in order (40013, 40125, 40002, 40029, 40163).
// After each abuse the stand-in still answers. Through nginx, the default
// avatar of a code points back at nginx and is served.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { env, http, wxCode } = require('../lib/harness');

const [HOST, PORT] = env.STANDIN_ADDR.split(':');
const EXCHANGE = `/sns/jscode2session?appid=${encodeURIComponent(env.WX_APPID)}` +
  `&secret=${encodeURIComponent(env.WX_SECRET)}&grant_type=authorization_code&js_code=`;

// Send `bytes`; resolve with {text, responses} once `count` complete answers
// arrived (the socket is then left open: `socket`) or the peer closed.
function raw(bytes, { count = Infinity, timeout = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(PORT), HOST, () => socket.write(Buffer.from(bytes, 'latin1')));
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const responses = parseResponses(buf);
      resolve({ text: buf.toString('latin1'), responses, closed, socket });
    };
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer in ${timeout} ms: ${buf.toString('latin1').slice(0, 200)}`)); }, timeout);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (parseResponses(buf).length >= count) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => {});
  });
}

// Complete responses at the start of buf: [{status, headers, body}].
function parseResponses(buf) {
  const out = [];
  let off = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', off);
    if (end < 0) return out;
    const lines = buf.subarray(off, end).toString('latin1').split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers = {};
    for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    const len = Number(headers['content-length'] || 0);
    if (buf.length < end + 4 + len) return out;
    out.push({ status, headers, body: buf.subarray(end + 4, end + 4 + len).toString('utf8') });
    off = end + 4 + len;
  }
}

const get = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: standin\r\n${extra}\r\n`;

async function code(options = '') {
  const { responses, socket } = await raw(get(`/standin/code?user=standin-test${options}`), { count: 1 });
  socket.destroy();
  assert.equal(responses[0].status, 200, responses[0].body);
  return JSON.parse(responses[0].body).code;
}

async function assertAlive() {
  const { responses, socket } = await raw(get('/standin/healthz'), { count: 1 });
  socket.destroy();
  assert.equal(responses[0].status, 200);
  assert.equal(responses[0].body, '{"ok":true}');
}

test('keep-alive: several requests on one connection, HTTP/1.0 and Connection: close end it', async () => {
  const { responses, closed, socket } = await raw(get('/standin/healthz') + get('/nope') + get('/standin/avatar/k.svg'), { count: 3 });
  assert.equal(closed, false);
  assert.deepEqual(responses.map((r) => r.status), [200, 404, 200]);
  assert.equal(responses[0].headers.connection, 'keep-alive');
  assert.equal(responses[0].headers['keep-alive'], 'timeout=5');
  assert.equal(responses[0].headers['content-type'], 'application/json');
  assert.equal(responses[1].body, '{"errcode":-1,"errmsg":"not found"}');
  assert.equal(responses[2].headers['content-type'], 'image/svg+xml');
  assert.equal(responses[2].headers['cache-control'], 'public, max-age=86400');
  socket.destroy();
  const old = await raw('GET /standin/healthz HTTP/1.0\r\n\r\n');
  assert.equal(old.closed, true);
  assert.equal(old.responses[0].headers.connection, 'close');
  const closing = await raw(get('/standin/healthz', 'Connection: close\r\n') + get('/standin/healthz'));
  assert.equal(closing.closed, true);
  assert.equal(closing.responses.length, 1, 'nothing is answered after Connection: close');
});

test('jscode2session: appid, secret, grant_type, then the code, as WeChat checks them', async () => {
  const c = await code('&unionid=1');
  const q = (appid, secret, grant, js) => `/sns/jscode2session?appid=${appid}&secret=${secret}&grant_type=${grant}&js_code=${js}`;
  const cases = [
    [q('wrong', env.WX_SECRET, 'authorization_code', c), 40013],
    [q(env.WX_APPID, 'wrong', 'authorization_code', c), 40125],
    [q(env.WX_APPID, env.WX_SECRET, 'other', c), 40002],
    [q(env.WX_APPID, env.WX_SECRET, 'authorization_code', 'never-issued'), 40029],
  ];
  for (const [path, errcode] of cases) {
    const { responses, socket } = await raw(get(path.replace(/=([^&]*)/g, (m, v) => `=${encodeURIComponent(v)}`)), { count: 1 });
    socket.destroy();
    assert.equal(responses[0].headers['content-type'], 'text/plain');
    assert.equal(JSON.parse(responses[0].body).errcode, errcode, path);
  }
  const { responses, socket } = await raw(get(EXCHANGE + c) + get(EXCHANGE + c), { count: 2 });
  socket.destroy();
  const ok = JSON.parse(responses[0].body);
  assert.deepEqual(Object.keys(ok), ['session_key', 'openid', 'unionid']);
  assert.equal(Buffer.from(ok.session_key, 'base64').length, 16);
  assert.match(ok.openid, /^o[\w-]{27}$/);
  assert.match(ok.unionid, /^u[\w-]{27}$/);
  assert.deepEqual(JSON.parse(responses[1].body), { errcode: 40163, errmsg: 'code been used' });
});

test('a delayed exchange holds up neither other connections nor the order on its own', async () => {
  const slow = await code('&delayMs=1500');
  const t0 = Date.now();
  let answered = 0;
  const socket = net.connect(Number(PORT), HOST, () => socket.write(get(EXCHANGE + slow) + get('/standin/healthz')));
  let buf = Buffer.alloc(0);
  const both = new Promise((resolve) => socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    answered = parseResponses(buf).length;
    if (answered >= 2) resolve(parseResponses(buf));
  }));
  await assertAlive();
  assert.equal(answered, 0, 'answered before another connection was served');
  const responses = await both;
  socket.destroy();
  assert.ok(Date.now() - t0 >= 1450, 'the exchange was not delayed');
  assert.ok(JSON.parse(responses[0].body).session_key, responses[0].body);
  assert.equal(responses[1].body, '{"ok":true}', 'the request behind it came second');
});

test('bodies are drained, so the next request on the connection is read right', async () => {
  const body = 'x'.repeat(70000);
  const { responses, socket } = await raw(
    `POST /standin/code?user=standin-body HTTP/1.1\r\nHost: s\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
    get('/standin/healthz'), { count: 2 });
  socket.destroy();
  assert.equal(responses[0].status, 200);
  assert.ok(JSON.parse(responses[0].body).code);
  assert.equal(responses[1].body, '{"ok":true}');
});

test('limits and malformed requests: answered with 4xx and closed, the stand-in unharmed', async () => {
  const cases = [
    [get('/standin/healthz', `X-Big: ${'a'.repeat(17000)}\r\n`), 431],
    ['POST /standin/code?user=x HTTP/1.1\r\nHost: s\r\nContent-Length: 1048577\r\n\r\n', 413],
    ['POST /standin/code?user=x HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['GET /standin/healthz HTTP/1.1\nHost: s\n\n', 400],
    ['\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n', 400],
    ['GET /standin/healthz HTTP/1.1\r\n\r\n', 400], // no Host
    ['GET /standin/healthz HTTP/1.1\r\nHost: s\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx', 400],
  ];
  for (const [bytes, status] of cases) {
    const { responses, closed } = await raw(bytes);
    assert.equal(closed, true, JSON.stringify(bytes.slice(0, 60)));
    assert.equal(responses[0] && responses[0].status, status, JSON.stringify(bytes.slice(0, 60)));
  }
  const avatar = await raw(get('/standin/avatar/%E5%BE.svg', 'Connection: close\r\n'));
  assert.equal(avatar.responses[0].status, 400, 'a malformed avatar name');
  await assertAlive();
});

test('through nginx, the default avatarUrl is on the host the client used, and is served', async () => {
  const code = await wxCode('avatar-default');
  const url = new URL(code.userInfo.avatarUrl);
  assert.equal(url.origin, env.BASE_URL);
  assert.equal(url.pathname, '/standin/avatar/avatar-default.svg');
  const svg = await http('GET', url.pathname);
  assert.equal(svg.status, 200);
  assert.match(svg.headers.get('content-type'), /^image\/svg\+xml/);
  assert.match(svg.text, /^<svg /);
});
