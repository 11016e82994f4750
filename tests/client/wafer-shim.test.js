// wafer-shim.test.js -- the test tool tests/lib/wx-shim.js behaves like the
// mini-program `wx` API it stands for (so the wafer suites prove something):
// wx.request through nginx (JSON parsed when it parses, text otherwise, GET
// data in the query string, POST objects as JSON, statusCode and headers),
// independent clients, and the socket API (global functions and SocketTask)
// on npm `ws`; and, when the stack has a relay, a wafer login continued into
// the chat at /chat.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const WebSocket = require('ws');
const { env } = require('../lib/harness');
const { createClient, createWx } = require('../lib/wx-shim');

const RUN = crypto.randomBytes(3).toString('hex');

// wx.request as a promise: resolves with success's argument, rejects with fail's.
const request = (wx, opts) => new Promise((resolve, reject) => wx.request(Object.assign({}, opts, { success: resolve, fail: reject })));

// Wait until cond() holds; fail after `ms` so a broken socket cannot hang the run.
function waitFor(cond, what, ms = 10000) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const t = setInterval(() => {
      if (cond()) { clearInterval(t); resolve(); } else if (Date.now() - start > ms) { clearInterval(t); reject(new Error(`no ${what}`)); }
    }, 10);
  });
}

// An echo server on a loopback port that also reports the handshake headers.
function echoServer() {
  return new Promise((resolve) => {
    const wss = new WebSocket.Server({ host: '127.0.0.1', port: 0 }, () => resolve(wss));
    wss.on('connection', (ws, req) => {
      ws.send(JSON.stringify({ hello: true, skey: req.headers['x-wx-skey'] || null, url: req.url }));
      ws.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === 'close-me') return ws.close(4401, 'bye');
        ws.send(data, { binary: isBinary });
      });
    });
  });
}

describe('wx-shim', { timeout: 60000 }, () => {
  it('wx.request: JSON parsed, text kept, status and headers passed on', async () => {
    const wx = createWx({ user: `shim-${RUN}` });
    const json = await request(wx, { url: `${env.BASE_URL}/standin/code`, data: { user: `q-${RUN}`, nickName: 'A B+C' } });
    assert.equal(json.statusCode, 200);
    assert.equal(typeof json.data, 'object');
    assert.equal(json.data.userInfo.nickName, 'A B+C', 'GET data went into the query string, encoded');
    assert.match(json.header['content-type'], /application\/json/);
    const svg = await request(wx, { url: `${env.BASE_URL}/standin/avatar/x.svg` });
    assert.equal(typeof svg.data, 'string');
    assert.match(svg.data, /^<svg/);
    const missing = await request(wx, { url: `${env.BASE_URL}/standin/nope` });
    assert.equal(missing.statusCode, 404, 'an HTTP error status is a success callback, as in WeChat');
    await assert.rejects(request(wx, { url: 'http://127.0.0.1:9/' }), (e) => /^request:fail/.test(e.errMsg));
  });

  it('wx.login and wx.getUserInfo give one issuance; storage is per client', async () => {
    const a = createWx({ user: `a-${RUN}` });
    const b = createWx({ user: `b-${RUN}` });
    const code = await new Promise((resolve, reject) => a.login({ success: (r) => resolve(r.code), fail: reject }));
    const info = await new Promise((resolve, reject) => a.getUserInfo({ success: resolve, fail: reject }));
    assert.equal(a.__shim.issued.length, 1);
    assert.equal(a.__shim.issued[0].code, code);
    assert.equal(info.encryptedData, a.__shim.issued[0].encryptedData);
    assert.equal(info.signature, a.__shim.issued[0].signature);
    assert.equal(info.userInfo.nickName, `a-${RUN}`);
    a.setStorageSync('k', { v: 1 });
    assert.deepEqual(a.getStorageSync('k'), { v: 1 });
    assert.equal(b.getStorageSync('k'), '');
    a.removeStorageSync('k');
    assert.equal(a.getStorageSync('k'), '');
  });

  it('each client has its own copy of the SDK', async () => {
    const a = createClient({ sdk: 'wafer', user: `sa-${RUN}` });
    const b = createClient({ sdk: 'wafer', user: `sb-${RUN}` });
    a.sdk.setLoginUrl(`${env.BASE_URL}/login`);
    await assert.rejects(b.login(), /setLoginUrl/);
    assert.equal((await a.login()).nickName, `sa-${RUN}`);
  });

  it('sockets: the global API and the SocketTask form, on ws', async () => {
    const wss = await echoServer();
    const url = `ws://127.0.0.1:${wss.address().port}/chat?room=lobby`;
    try {
      const wx = createWx({ user: `sock-${RUN}` });
      const got = [];
      const opened = new Promise((resolve) => wx.onSocketOpen(resolve));
      const closed = new Promise((resolve) => wx.onSocketClose(resolve));
      wx.onSocketMessage((m) => got.push(m.data));
      wx.connectSocket({ url, header: { 'X-WX-Skey': 'k1' } });
      await opened;
      await new Promise((resolve, reject) => wx.sendSocketMessage({ data: 'ping-1', success: resolve, fail: reject }));
      await waitFor(() => got.length >= 2, 'echo on the global socket');
      assert.deepEqual(JSON.parse(got[0]), { hello: true, skey: 'k1', url: '/chat?room=lobby' });
      assert.equal(got[1], 'ping-1');
      wx.sendSocketMessage({ data: 'close-me' });
      const c = await closed;
      assert.equal(c.code, 4401);
      assert.equal(c.reason, 'bye');

      const task = wx.connectSocket({ url });
      const msgs = [];
      task.onMessage((m) => msgs.push(m.data));
      await new Promise((resolve) => task.onOpen(resolve));
      task.send({ data: new Uint8Array([1, 2, 3]).buffer });
      await waitFor(() => msgs.length >= 2, 'echo on the SocketTask');
      assert.ok(msgs[1] instanceof ArrayBuffer);
      assert.deepEqual([...new Uint8Array(msgs[1])], [1, 2, 3]);
      const done = new Promise((resolve) => task.onClose(resolve));
      task.close({ code: 1000 });
      assert.equal((await done).code, 1000);
    } finally {
      wss.close();
    }
  });

  it('a wafer login continues into the chat at /chat (when the stack has a relay)', async (t) => {
    if (!env.RELAY_PORTS) return t.skip('no relay in this stack');
    const c = createClient({ sdk: 'wafer', user: `chat-${RUN}` });
    c.sdk.setLoginUrl(`${env.BASE_URL}/login`);
    await c.login();
    const { id, skey } = c.wx.getStorageSync(`weapp_session_F2C224D4-2BCE-4C64-AF9F-A6D872000D1A`);
    const wsUrl = `${env.BASE_URL.replace(/^http/, 'ws')}/chat?X-WX-Id=${id}&X-WX-Skey=${skey}`;
    const first = new Promise((resolve, reject) => {
      c.wx.onSocketMessage((m) => resolve(JSON.parse(m.data)));
      c.wx.onSocketError(reject);
    });
    c.wx.connectSocket({ url: wsUrl });
    const hello = await first;
    assert.equal(hello.type, 'system', JSON.stringify(hello));
    assert.equal(hello.room, 'lobby');
    assert.ok(Number.isInteger(hello.num) && hello.num >= 1);
    c.wx.closeSocket();
  });
});
