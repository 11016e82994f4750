// chat-client.js -- small promise-based WebSocket clients for the relay tests:
// ChatClient (npm `ws`, through nginx or straight to a relay port) collects
// every frame and waits for frames or the close with bounded timeouts;
// RawConn speaks WebSocket by hand over a TCP socket so a test can send
// frames that no well-behaved library would (unmasked, reserved bits, bad
// lengths, broken UTF-8, ...); rawHttp sends arbitrary request bytes;
// assertChat/assertConsecutive check chat frames and id lists.
'use strict';

const net = require('net');
const crypto = require('crypto');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { env } = require('./harness');

const DEFAULT_TIMEOUT = 10000;   // a bound, not a speed requirement: the machine may be busy

const relayPorts = () => env.RELAY_PORTS.split(' ').filter(Boolean).map(Number);
const metricsPorts = () => env.RELAY_METRICS_PORTS.split(' ').filter(Boolean).map(Number);

// A unique room name per call, so tests never see each other's traffic.
let roomCounter = 0;
function uniqueRoom(tag = 'r') {
  roomCounter += 1;
  return `t_${tag}_${process.pid}_${roomCounter}_${crypto.randomBytes(3).toString('hex')}`.slice(0, 64);
}

let cidCounter = 0;
const newCid = () => `cid-${process.pid}-${++cidCounter}-${crypto.randomBytes(4).toString('hex')}`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ws://... of /chat: via 'nginx' (default), a relay number (1-based, the
// stack's relays) or {port} (an extra relay).
function chatBase(via) {
  if (via === undefined || via === 'nginx') return `${env.BASE_URL.replace(/^http/, 'ws')}/chat`;
  if (typeof via === 'number') {
    const port = relayPorts()[via - 1];
    if (!port) throw new Error(`no relay number ${via} in RELAY_PORTS='${env.RELAY_PORTS}'`);
    return `ws://127.0.0.1:${port}/chat`;
  }
  if (via && via.socket) return `ws+unix:${via.socket}:/chat`;
  if (via && via.port) return `ws://127.0.0.1:${via.port}/chat`;
  throw new Error(`bad via ${JSON.stringify(via)}`);
}

// The query string of an open: session (unless in headers), room, since, epoch, extra.
function chatQuery(session, opts) {
  const q = new URLSearchParams();
  if (session && !opts.sessionInHeaders) {
    if (session.id !== undefined && !opts.noId) q.set('X-WX-Id', session.id);
    q.set('X-WX-Skey', session.skey);
  }
  if (opts.room !== undefined) q.set('room', opts.room);
  if (opts.since !== undefined) q.set('since', String(opts.since));
  if (opts.epoch !== undefined) q.set('epoch', opts.epoch);
  for (const [k, v] of Object.entries(opts.query || {})) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

const isChat = (f) => f && (f.type === 'user' || f.type === 'remote');
const brief = (f) => JSON.stringify(f).slice(0, 200);

class ChatClient {
  constructor(url, headers, label) {
    this.label = label || 'client';
    this.url = url;
    this.frames = [];        // parsed JSON frames, in arrival order (unparsable: {_unparsed})
    this.binaryFrames = 0;
    this.waiters = new Set();
    this.closeInfo = null;
    this.ws = new WebSocket(url, { headers, handshakeTimeout: DEFAULT_TIMEOUT });
    this.ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    this.ws.on('error', (err) => { this.lastError = err; });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const w of this.waiters) {
          clearTimeout(w.timer);
          w.reject(new Error(`${this.label}: closed with ${code} while waiting for ${w.what}; ` +
                             `last frames: ${this.frames.slice(-3).map(brief).join(' | ')}`));
        }
        this.waiters.clear();
        resolve(this.closeInfo);
      });
    });
  }

  // Connect; resolves once the upgrade succeeded (rejects with .status on a
  // refused upgrade). opts: via, room, since, epoch, query, sessionInHeaders,
  // noId, headers, label.
  static open(session, opts = {}) {
    const headers = Object.assign({}, opts.headers || {});
    if (session && opts.sessionInHeaders) {
      if (session.id !== undefined && !opts.noId) headers['X-WX-Id'] = session.id;
      headers['X-WX-Skey'] = session.skey;
    }
    const c = new ChatClient(chatBase(opts.via) + chatQuery(session, opts), headers, opts.label);
    return new Promise((resolve, reject) => {
      c.ws.once('open', () => resolve(c));
      c.ws.once('unexpected-response', (req, res) => {
        const e = new Error(`${c.label}: upgrade refused with HTTP ${res.statusCode}`);
        e.status = res.statusCode;
        req.destroy();
        reject(e);
      });
      c.ws.once('close', () => reject(c.lastError || new Error(`${c.label}: closed before open`)));
    });
  }

  // Open and wait for the first frame, which must be the system frame.
  static async join(session, opts = {}) {
    const c = await ChatClient.open(session, opts);
    const first = await c.waitFor(() => true, { what: 'the first frame' });
    if (first.type !== 'system') {
      c.terminate();
      throw new Error(`${c.label}: first frame is not a system frame: ${brief(first)}`);
    }
    c.system = first;
    return c;
  }

  onFrame(data, isBinary) {
    if (isBinary) { this.binaryFrames += 1; return; }
    const text = data.toString('utf8');
    let f;
    try { f = JSON.parse(text); } catch { f = { _unparsed: text }; }
    if (f === null || typeof f !== 'object') f = { _unparsed: text };
    this.frames.push(f);
    for (const w of this.waiters) {
      if (w.pred(f)) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve(f);
      }
    }
  }

  // Index to pass as `from` to wait only for frames arriving after now.
  mark() { return this.frames.length; }

  // The first frame at index >= from matching pred (bounded by timeout).
  waitFor(pred, { timeout = DEFAULT_TIMEOUT, from = 0, what = 'a matching frame' } = {}) {
    for (let i = from; i < this.frames.length; i++) if (pred(this.frames[i])) return Promise.resolve(this.frames[i]);
    if (this.closeInfo) {
      return Promise.reject(new Error(`${this.label}: already closed (${this.closeInfo.code}) ` +
                                      `waiting for ${what}`));
    }
    return new Promise((resolve, reject) => {
      const w = { pred, resolve, reject, what };
      w.timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`${this.label}: no ${what} within ${timeout} ms; ` +
                         `last frames: ${this.frames.slice(-3).map(brief).join(' | ')}`));
      }, timeout);
      this.waiters.add(w);
    });
  }

  // Resolves with the matching frames (from `from`) once there are n of them.
  async waitCount(pred, n, { timeout = DEFAULT_TIMEOUT, from = 0, what = `${n} matching frames` } = {}) {
    const count = () => this.frames.slice(from).filter(pred).length;
    const deadline = Date.now() + timeout;
    while (count() < n) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`${this.label}: ${count()} of ${what} within ${timeout} ms; ` +
                        `last frames: ${this.frames.slice(-3).map(brief).join(' | ')}`);
      }
      let seen = 0;
      const need = n - count();
      await this.waitFor((f) => pred(f) && ++seen >= need, { timeout: left, from: this.frames.length, what });
    }
    return this.frames.slice(from).filter(pred);
  }

  chats(from = 0) { return this.frames.slice(from).filter(isChat); }

  send(obj) { this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); }

  // Send a text message with a cid and wait for its acknowledgement (own echo).
  // Rejects when an error frame for that cid arrives instead.
  async say(content, { cid = newCid(), timeout = DEFAULT_TIMEOUT, extra = {} } = {}) {
    const from = this.mark();
    this.send(Object.assign({ text: true, content, cid }, extra));
    const f = await this.waitFor((x) => x.cid === cid && (x.type === 'user' || x.type === 'error'),
                                 { from, timeout, what: `the echo of cid ${cid}` });
    if (f.type === 'error') {
      const e = new Error(`${this.label}: message refused: ${brief(f)}`);
      e.frame = f;
      throw e;
    }
    return f;
  }

  // Send and wait for the reply carrying `cid` (ack or error), whatever it is.
  async request(obj, { timeout = DEFAULT_TIMEOUT } = {}) {
    const from = this.mark();
    this.send(obj);
    return this.waitFor((x) => x.cid === obj.cid && (x.type === 'user' || x.type === 'error'),
                        { from, timeout, what: `a reply to cid ${obj.cid}` });
  }

  async waitClose(timeout = DEFAULT_TIMEOUT) {
    let t;
    const limit = new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`${this.label}: not closed within ${timeout} ms; ` +
                                            `last frames: ${this.frames.slice(-3).map(brief).join(' | ')}`)),
                     timeout);
    });
    try { return await Promise.race([this.closed, limit]); } finally { clearTimeout(t); }
  }

  get open() { return this.ws.readyState === WebSocket.OPEN; }

  close(code = 1000) { if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(code); }

  terminate() { this.ws.terminate(); }
}

// Close (terminate) every client given, ignoring the ones already closed.
function closeAll(...clients) {
  for (const c of clients.flat()) if (c) c.terminate();
}

// ------------------------------------------------------------------ assertions
const CHAT_KEYS = new Set(['type', 'id', 'number', 'room', 'uid', 'nickName', 'avatarUrl', 'time',
                           'text', 'content', 'gallery', 'url', 'cid', 'history']);

// f is a chat frame for `want`: {type, room, sender (session), content | url, cid, id, history}.
function assertChat(f, want) {
  assert.ok(f && (f.type === 'user' || f.type === 'remote'), `not a chat frame: ${JSON.stringify(f)}`);
  for (const k of Object.keys(f)) assert.ok(CHAT_KEYS.has(k), `unexpected key "${k}" in ${JSON.stringify(f)}`);
  if (want.type) assert.equal(f.type, want.type, `type of ${JSON.stringify(f)}`);
  assert.ok(Number.isSafeInteger(f.id) && f.id > 0, `id ${f.id}`);
  if (want.id !== undefined) assert.equal(f.id, want.id, `id of ${JSON.stringify(f)}`);
  assert.ok(Number.isSafeInteger(f.number) && f.number >= 0, `number ${f.number}`);
  if (want.room) assert.equal(f.room, want.room);
  assert.ok(Number.isSafeInteger(f.time) && f.time > 1.6e12 && f.time < 4e12, `time in ms: ${f.time}`);
  if (want.sender) {
    assert.equal(f.uid, want.sender.uid, 'uid is users.id of the sender');
    assert.equal(f.nickName, want.sender.nickName);
    assert.equal(f.avatarUrl, want.sender.avatarUrl);
  }
  if (want.url !== undefined) {
    assert.equal(f.gallery, true);
    assert.equal(f.url, want.url);
    assert.equal(f.text, undefined);
  } else if (want.content !== undefined) {
    assert.equal(f.text, true);
    assert.equal(f.content, want.content);
    assert.equal(f.gallery, undefined);
  }
  if ('cid' in want) assert.equal(f.cid, want.cid === null ? undefined : want.cid, 'cid');
  if (want.history) assert.equal(f.history, true, `history flag on ${JSON.stringify(f)}`);
  else if (want.history === false) assert.equal(f.history, undefined, `no history flag on ${JSON.stringify(f)}`);
}

// ids are consecutive integers (first given or any).
function assertConsecutive(ids, first, what = 'ids') {
  if (first !== undefined && ids.length) assert.equal(ids[0], first, `${what} start at ${first}`);
  for (let i = 1; i < ids.length; i++) {
    assert.equal(ids[i], ids[i - 1] + 1, `${what} are gap-free and in order: ...${ids.slice(Math.max(0, i - 3), i + 2)}...`);
  }
}

// ------------------------------------------------------------------ raw sockets

// Encode one client frame. opts: fin (true), opcode, payload (Buffer|string),
// mask (true), rsv (0..7, the RSV1..3 bits), length (claimed payload length
// written in the header instead of the real one: for lying headers).
function encodeFrame({ fin = true, opcode = 1, payload = Buffer.alloc(0), mask = true, rsv = 0, length } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const len = length === undefined ? BigInt(data.length) : BigInt(length);
  const parts = [];
  const b0 = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  let head;
  if (len < 126n) head = Buffer.from([b0, (mask ? 0x80 : 0) | Number(len)]);
  else if (len < 65536n) {
    head = Buffer.alloc(4);
    head[0] = b0; head[1] = (mask ? 0x80 : 0) | 126; head.writeUInt16BE(Number(len), 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0; head[1] = (mask ? 0x80 : 0) | 127; head.writeBigUInt64BE(len, 2);
  }
  parts.push(head);
  if (mask) {
    const key = crypto.randomBytes(4);
    const masked = Buffer.alloc(data.length);
    for (let i = 0; i < data.length; i++) masked[i] = data[i] ^ key[i & 3];
    parts.push(key, masked);
  } else {
    parts.push(data);
  }
  return Buffer.concat(parts);
}

// Parse server frames from buf; returns {frames, rest}.
function decodeFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off], b1 = buf[off + 1];
    let len = b1 & 0x7f, p = off + 2;
    if (len === 126) { if (buf.length - p < 2) break; len = buf.readUInt16BE(p); p += 2; }
    else if (len === 127) { if (buf.length - p < 8) break; len = Number(buf.readBigUInt64BE(p)); p += 8; }
    const masked = (b1 & 0x80) !== 0;
    let key = null;
    if (masked) { if (buf.length - p < 4) break; key = buf.subarray(p, p + 4); p += 4; }
    if (buf.length - p < len) break;
    let payload = Buffer.from(buf.subarray(p, p + len));
    if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    const f = { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload };
    if (f.opcode === 8) {
      f.code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
      f.reason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
    } else if (f.opcode === 1) {
      f.text = payload.toString('utf8');
      try { f.json = JSON.parse(f.text); } catch { f.json = undefined; }
    }
    frames.push(f);
    p += len;
    off = p;
  }
  return { frames, rest: buf.subarray(off) };
}

// A hand-driven WebSocket (or plain HTTP) connection to 127.0.0.1:port.
class RawConn {
  constructor(port) {
    this.port = port;
    this.buf = Buffer.alloc(0);
    this.head = null;       // {status, headers, text} once the response head arrived
    this.frames = [];
    this.waiters = new Set();
    this.ended = false;
    this.sock = net.connect({ host: '127.0.0.1', port });
    this.sock.on('data', (d) => this.onData(d));
    this.sock.on('error', (e) => { this.error = e; });
    this.connected = new Promise((resolve, reject) => {
      this.sock.once('connect', resolve);
      this.sock.once('error', reject);
    });
    this.closedP = new Promise((resolve) => this.sock.on('close', () => {
      this.ended = true;
      this.check();
      resolve();
    }));
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    if (!this.head) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) { this.check(); return; }
      const text = this.buf.subarray(0, end).toString('latin1');
      const lines = text.split('\r\n');
      const m = lines[0].match(/^HTTP\/1\.[01] (\d{3})/);
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      this.head = { status: m ? Number(m[1]) : 0, headers, text };
      this.buf = this.buf.subarray(end + 4);
    }
    if (this.head.status === 101) {
      const { frames, rest } = decodeFrames(this.buf);
      this.buf = rest;
      this.frames.push(...frames);
    }
    this.check();
  }

  check() {
    for (const w of this.waiters) {
      const v = w.test();
      if (v !== undefined) { clearTimeout(w.timer); this.waiters.delete(w); w.resolve(v); }
    }
  }

  // Wait until test() returns something other than undefined (or the timeout).
  until(test, what, timeout = DEFAULT_TIMEOUT) {
    const v = test();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise((resolve, reject) => {
      const w = { test, resolve };
      w.timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`raw :${this.port}: no ${what} within ${timeout} ms (status ${this.head && this.head.status}, ` +
                         `${this.frames.length} frames, ended ${this.ended})`));
      }, timeout);
      this.waiters.add(w);
    });
  }

  // The response head ({status, headers, text}); undefined status if closed without one.
  response(timeout) {
    return this.until(() => (this.head ? this.head : this.ended ? { status: undefined, headers: {}, text: '' } : undefined),
                      'response head', timeout);
  }

  waitFrame(pred, what = 'matching frame', timeout) {
    return this.until(() => this.frames.find(pred) || (this.ended ? null : undefined), what, timeout)
      .then((f) => { if (!f) throw new Error(`raw :${this.port}: connection ended before ${what}`); return f; });
  }

  // The close frame from the server (or null if the connection ended without one).
  waitCloseFrame(timeout) {
    return this.until(() => this.frames.find((f) => f.opcode === 8) || (this.ended ? null : undefined),
                      'close frame', timeout);
  }

  waitEnd(timeout) { return this.until(() => (this.ended ? true : undefined), 'end of connection', timeout); }

  // Resolves true once the bytes are handed to the kernel, false on error
  // or when the peer has not taken them within timeout (it stopped reading).
  write(bytes, timeout = DEFAULT_TIMEOUT) {
    return new Promise((resolve) => {
      if (this.sock.destroyed) { resolve(false); return; }
      const t = setTimeout(() => resolve(false), timeout);
      this.sock.write(bytes, (err) => { clearTimeout(t); resolve(!err); });
    });
  }

  frame(opts) { return this.write(encodeFrame(opts)); }

  destroy() { this.sock.destroy(); }
}

// Connect and complete a WebSocket handshake on /chat (path with query),
// with extra headers (a header set to null is left out).
async function rawUpgrade(port, path, headers = {}, timeout = DEFAULT_TIMEOUT) {
  const conn = new RawConn(port);
  await conn.connected;
  const h = Object.assign({
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
  }, headers);
  let req = `GET ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(h)) if (v !== null) req += `${k}: ${v}\r\n`;
  await conn.write(`${req}\r\n`);
  conn.key = h['Sec-WebSocket-Key'];
  await conn.response(timeout);
  return conn;
}

// Send raw bytes to 127.0.0.1:port and collect everything until the server
// closes (or timeout): {status, text, ended}.
async function rawHttp(port, bytes, timeout = DEFAULT_TIMEOUT) {
  const conn = new RawConn(port);
  await conn.connected;
  await conn.write(bytes);
  try { await conn.waitEnd(timeout); } catch { /* reported through ended */ }
  const text = conn.head ? conn.head.text : conn.buf.toString('latin1');
  const res = { status: conn.head && conn.head.status, headers: conn.head ? conn.head.headers : {}, text, ended: conn.ended };
  conn.destroy();
  return res;
}

// The Prometheus text of a metrics port, as {name{labels}: value}.
async function metrics(port) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(DEFAULT_TIMEOUT) });
  const text = await res.text();
  const values = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^(\S+?(?:\{[^}]*\})?)\s+(\S+)/);
    if (m) values[m[1]] = Number(m[2]);
  }
  return { status: res.status, text, values };
}

module.exports = {
  ChatClient, RawConn, rawUpgrade, rawHttp, encodeFrame, decodeFrames, metrics, closeAll,
  assertChat, assertConsecutive, chatBase, chatQuery, relayPorts, metricsPorts, uniqueRoom, newCid, isChat, sleep, DEFAULT_TIMEOUT,
};
