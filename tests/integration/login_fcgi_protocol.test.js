// login_fcgi_protocol.test.js -- the FastCGI protocol spoken straight to
// login-fcgi at FCGI_ADDR, bypassing nginx, with a small client of its own
// (https://fastcgi-archives.github.io/FastCGI_Specification.html): PARAMS
// split anywhere (even inside a length), the STDOUT stream ended by an empty
// record and END_REQUEST with the request's id, FCGI_KEEP_CONN honoured both
// ways, an unknown role (FCGI_UNKNOWN_ROLE) and a second request on the
// connection (FCGI_CANT_MPX_CONN) refused, FCGI_GET_VALUES and unknown
// management types answered, a body in several STDIN records,
// FCGI_ABORT_REQUEST, malformed or truncated input and PARAMS over 1 MiB
// closing only the offending connection, 100 connections at once, and no
// descriptor left open in login-fcgi however nginx ends a connection, and
// a clean stop when nginx closes its connections as login-fcgi stops.
// GET /healthz is the simple request (200, {"ok":true}); POST /user, with a
// session from a real login, the one that reads a body.
'use strict';

const { test, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { env, stack } = require('../lib/harness');
const { userNamer, loginAs } = require('../lib/fixtures');

const uname = userNamer();
const WAIT_MS = 5000; // the bound on every wait for the server

// Record types, roles, flags and protocol statuses of the specification.
const T = {
  BEGIN_REQUEST: 1, ABORT_REQUEST: 2, END_REQUEST: 3, PARAMS: 4, STDIN: 5, STDOUT: 6,
  STDERR: 7, DATA: 8, GET_VALUES: 9, GET_VALUES_RESULT: 10, UNKNOWN_TYPE: 11,
};
const TYPE_NAMES = Object.fromEntries(Object.entries(T).map(([k, v]) => [v, k]));
const RESPONDER = 1;
const AUTHORIZER = 2;
const KEEP_CONN = 1;
const REQUEST_COMPLETE = 0;
const CANT_MPX_CONN = 1;
const UNKNOWN_ROLE = 3;

const HEALTHZ = {
  REQUEST_METHOD: 'GET', SCRIPT_NAME: '/healthz', REQUEST_URI: '/healthz',
  QUERY_STRING: '', SERVER_PROTOCOL: 'HTTP/1.1', CONTENT_LENGTH: '',
};

// ---- encoding ----

// One record: 8-byte header (version, type, requestId, contentLength,
// paddingLength, reserved), content, padding.
function record(type, id, content = Buffer.alloc(0), { version = 1, padding = 0 } = {}) {
  const head = Buffer.alloc(8);
  head[0] = version;
  head[1] = type;
  head.writeUInt16BE(id, 2);
  head.writeUInt16BE(content.length, 4);
  head[6] = padding;
  return Buffer.concat([head, content, Buffer.alloc(padding)]);
}

// A name-value length: one byte below 128, else four with the high bit set.
function encodeLength(n) {
  if (n < 128) return Buffer.from([n]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n | 0x80000000) >>> 0);
  return b;
}

function encodePair(name, value) {
  const n = Buffer.from(name);
  const v = Buffer.from(value);
  return Buffer.concat([encodeLength(n.length), encodeLength(v.length), n, v]);
}

// {NAME: value, ...} as one name-value byte string.
function encodePairs(params) {
  return Buffer.concat(Object.entries(params).map(([k, v]) => encodePair(k, v)));
}

// Name-value pairs decoded from a byte string: [[name, value], ...].
function decodePairs(buf) {
  const out = [];
  let at = 0;
  const length = () => {
    assert.ok(at < buf.length, 'a name-value length past the content');
    if (buf[at] < 128) return buf[at++];
    assert.ok(at + 4 <= buf.length, 'a 4-byte name-value length past the content');
    const n = buf.readUInt32BE(at) & 0x7fffffff;
    at += 4;
    return n;
  };
  while (at < buf.length) {
    const nl = length();
    const vl = length();
    assert.ok(at + nl + vl <= buf.length, 'a name-value pair past the content');
    out.push([buf.toString('latin1', at, at + nl), buf.toString('latin1', at + nl, at + nl + vl)]);
    at += nl + vl;
  }
  return out;
}

function beginRequest(id, { role = RESPONDER, flags = KEEP_CONN } = {}) {
  const body = Buffer.alloc(8);
  body.writeUInt16BE(role, 0);
  body[2] = flags;
  return record(T.BEGIN_REQUEST, id, body);
}

// A stream (PARAMS or STDIN) as records of `bytes` cut at the given offsets;
// `end` appends the empty record that closes the stream.
function streamRecords(type, id, bytes, { cuts = [], end = true } = {}) {
  const out = [];
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    if (to > from) out.push(record(type, id, bytes.subarray(from, to)));
    from = to;
  }
  if (end) out.push(record(type, id));
  return out;
}

// The records of a whole request without a body: BEGIN, PARAMS (cut at
// paramCuts) and the empty STDIN record.
function requestRecords(id, params, { role, flags, paramCuts = [] } = {}) {
  return [
    beginRequest(id, { role, flags }),
    ...streamRecords(T.PARAMS, id, encodePairs(params), { cuts: paramCuts }),
    record(T.STDIN, id),
  ];
}

// ---- the connection and its record reader ----

const openConnections = new Set();
afterEach(() => {
  for (const c of openConnections) c.destroy();
});

function describeRecord(r) {
  return `${TYPE_NAMES[r.type] || `type ${r.type}`}#${r.id}(${r.content.length})`;
}

class FcgiConnection {
  // A connection to login-fcgi (Unix socket path or 127.0.0.1:PORT).
  static async open() {
    const addr = env.FCGI_ADDR;
    const where = addr.startsWith('/')
      ? { path: addr }
      : { host: addr.slice(0, addr.lastIndexOf(':')), port: Number(addr.slice(addr.lastIndexOf(':') + 1)) };
    const conn = new FcgiConnection(net.createConnection(where));
    const ok = await conn.until(() => (conn.connected ? true : conn.closed ? false : undefined), `connecting to ${addr}`);
    assert.ok(ok, `cannot connect to ${addr}: ${conn.error && conn.error.message}`);
    return conn;
  }

  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.records = []; // received, not yet taken
    this.seen = [];    // descriptions of everything received, for messages
    this.connected = false;
    this.closed = false; // the server ended or closed the connection
    this.waiters = new Set();
    openConnections.add(this);
    socket.on('connect', () => { this.connected = true; this.wake(); });
    socket.on('data', (d) => this.onData(d));
    socket.on('error', (e) => { this.error = e; });
    socket.on('end', () => { this.closed = true; this.wake(); });
    socket.on('close', () => { this.closed = true; openConnections.delete(this); this.wake(); });
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 8) {
      const length = this.buf.readUInt16BE(4);
      const total = 8 + length + this.buf[6];
      if (this.buf.length < total) break;
      const r = {
        version: this.buf[0], type: this.buf[1], id: this.buf.readUInt16BE(2),
        content: Buffer.from(this.buf.subarray(8, 8 + length)),
      };
      this.buf = this.buf.subarray(total);
      this.records.push(r);
      this.seen.push(describeRecord(r));
    }
    this.wake();
  }

  wake() {
    for (const w of this.waiters) {
      const v = w.test();
      if (v !== undefined) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve(v);
      }
    }
  }

  // Wait until test() returns something other than undefined, at most ms.
  until(test, what, ms = WAIT_MS) {
    const v = test();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise((resolve, reject) => {
      const w = { test, resolve };
      w.timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`${what}: nothing within ${ms} ms (received so far: ${this.seen.join(' ') || 'nothing'}` +
          `${this.closed ? '; connection closed' : ''}${this.error ? `; ${this.error.code}` : ''})`));
      }, ms);
      this.waiters.add(w);
    });
  }

  // Write the buffers; resolves once written (or failed: a server that
  // closed on bad input may reset the connection under a write).
  send(...buffers) {
    return new Promise((resolve) => {
      if (this.socket.destroyed) { resolve(); return; }
      this.socket.write(Buffer.concat(buffers), () => resolve());
    });
  }

  // The next record, in version 1.
  async nextRecord(what, ms = WAIT_MS) {
    const r = await this.until(() => {
      if (this.records.length) return this.records.shift();
      return this.closed ? null : undefined;
    }, what, ms);
    assert.ok(r, `${what}: the server closed the connection (received: ${this.seen.join(' ') || 'nothing'})`);
    assert.equal(r.version, 1, `version of ${describeRecord(r)}`);
    return r;
  }

  // Resolves when the server has ended or closed the connection.
  waitClosed(what, ms = WAIT_MS) {
    return this.until(() => (this.closed ? true : undefined), what, ms);
  }

  destroy() {
    this.socket.destroy();
    openConnections.delete(this);
  }
}

// ---- responses ----

// The records of request `id` up to its END_REQUEST, all on that id:
// {stdout (joined), stdoutRecords, stderr, appStatus, protocolStatus}.
async function readResponse(conn, id, ms = WAIT_MS) {
  const res = { stdoutRecords: [], stderrRecords: [] };
  for (;;) {
    const r = await conn.nextRecord(`the answer to request ${id}`, ms);
    assert.equal(r.id, id, `a record for another request: ${describeRecord(r)} (all: ${conn.seen.join(' ')})`);
    if (r.type === T.END_REQUEST) {
      assert.equal(r.content.length, 8, 'END_REQUEST body length');
      res.appStatus = r.content.readUInt32BE(0);
      res.protocolStatus = r.content[4];
      break;
    }
    if (r.type === T.STDOUT) res.stdoutRecords.push(r.content);
    else if (r.type === T.STDERR) res.stderrRecords.push(r.content);
    else assert.fail(`unexpected ${describeRecord(r)} before END_REQUEST`);
  }
  res.stdout = Buffer.concat(res.stdoutRecords);
  res.stderr = Buffer.concat(res.stderrRecords).toString('utf8');
  return res;
}

// A CGI response (Status and other headers, blank line, body):
// {status, head, headers: [lines], body}.
function parseCgi(stdout) {
  const text = stdout.toString('utf8');
  const blank = /\r?\n\r?\n/.exec(text);
  assert.ok(blank, `no blank line after the headers: ${JSON.stringify(text)}`);
  const head = text.slice(0, blank.index);
  const m = /^Status: (\d{3})\b/.exec(head);
  assert.ok(m, `STDOUT does not begin with a Status line: ${JSON.stringify(text)}`);
  return { status: Number(m[1]), head, headers: head.split(/\r?\n/), body: text.slice(blank.index + blank[0].length) };
}

// A complete JSON answer with `status`: the STDOUT stream closed by an empty
// record, END_REQUEST {appStatus 0, REQUEST_COMPLETE}. Returns the JSON.
function assertJsonResponse(res, status = 200) {
  assert.equal(res.protocolStatus, REQUEST_COMPLETE, 'END_REQUEST protocolStatus');
  assert.equal(res.appStatus, 0, 'END_REQUEST appStatus');
  assert.ok(res.stdoutRecords.length >= 2, `STDOUT records: ${res.stdoutRecords.map((b) => b.length)}`);
  assert.equal(res.stdoutRecords.at(-1).length, 0, 'the STDOUT stream ends with an empty record');
  assert.ok(res.stdoutRecords.slice(0, -1).every((b) => b.length > 0), 'no empty STDOUT record before the last');
  const cgi = parseCgi(res.stdout);
  assert.equal(cgi.status, status, `status of ${cgi.head} ${cgi.body}`);
  assert.ok(cgi.headers.some((l) => /^Content-Type: application\/json(;|$)/i.test(l)), `Content-Type in ${cgi.head}`);
  return JSON.parse(cgi.body);
}

// Request `id` of GET /healthz on conn answers 200 {"ok":true}.
async function assertHealthy(conn, id, opts = {}) {
  await conn.send(...requestRecords(id, HEALTHZ, opts));
  const json = assertJsonResponse(await readResponse(conn, id));
  assert.equal(json.ok, true, JSON.stringify(json));
}

// A fresh connection serves /healthz, and is closed again.
async function assertServing() {
  const conn = await FcgiConnection.open();
  try {
    await assertHealthy(conn, 1);
  } finally {
    conn.destroy();
  }
}

// The CGI variables nginx passes for a POST /user with the session's headers.
function postUserParams(session, contentLength) {
  return {
    REQUEST_METHOD: 'POST', SCRIPT_NAME: '/user', REQUEST_URI: '/user', QUERY_STRING: '',
    SERVER_PROTOCOL: 'HTTP/1.1', CONTENT_TYPE: 'application/json', CONTENT_LENGTH: String(contentLength),
    HTTP_X_WX_ID: session.id, HTTP_X_WX_SKEY: session.skey,
  };
}

// One real login (through nginx and the stand-in), made on first use.
let sessionPromise;
function theSession() {
  sessionPromise ??= loginAs(uname('fcgi'));
  return sessionPromise;
}

// ---- the tests ----

test('PARAMS split mid-pair (even inside a 4-byte length), STDOUT then END_REQUEST; keep-conn serves a second request', async () => {
  const conn = await FcgiConnection.open();
  // A 200-byte value has a 4-byte length: cut inside it, inside a name and
  // inside a value; the pair order puts X_PADDING after the /healthz pairs.
  const params = { ...HEALTHZ, HTTP_X_PADDING: 'p'.repeat(200) };
  const padAt = encodePairs(HEALTHZ).length; // where HTTP_X_PADDING's pair begins
  const cuts = [5, 30, padAt + 1 + 2, padAt + 1 + 4 + 7, padAt + 60];
  await conn.send(...requestRecords(7, params, { paramCuts: cuts }));
  const res = await readResponse(conn, 7);
  const json = assertJsonResponse(res);
  assert.deepEqual(json, { ok: true });
  assert.ok(res.stdout.toString().startsWith('Status: 200'), res.stdout.toString());

  await assertHealthy(conn, 8);
  conn.destroy();
});

test('flags 0 (no FCGI_KEEP_CONN): the server closes the connection after END_REQUEST', async () => {
  const conn = await FcgiConnection.open();
  await conn.send(...requestRecords(3, HEALTHZ, { flags: 0 }));
  assertJsonResponse(await readResponse(conn, 3));
  await conn.waitClosed('the close after a request without FCGI_KEEP_CONN', 2000);
});

test('role AUTHORIZER: END_REQUEST with FCGI_UNKNOWN_ROLE, no STDOUT; the kept connection serves on', async () => {
  const conn = await FcgiConnection.open();
  // Like a web server, send the whole request at once: once refused, its
  // PARAMS and STDIN records are for an inactive id and must be ignored.
  await conn.send(...requestRecords(5, HEALTHZ, { role: AUTHORIZER }));
  const res = await readResponse(conn, 5);
  assert.equal(res.protocolStatus, UNKNOWN_ROLE, 'END_REQUEST protocolStatus');
  assert.equal(res.stdoutRecords.length, 0, `STDOUT for a refused request: ${res.stdout}`);
  await assertHealthy(conn, 6);
  conn.destroy();
});

test('a second BEGIN_REQUEST while one is active: FCGI_CANT_MPX_CONN, the first is answered', async () => {
  const conn = await FcgiConnection.open();
  const pairs = encodePairs(HEALTHZ);
  const half = Math.floor(pairs.length / 2);
  await conn.send(beginRequest(1), record(T.PARAMS, 1, pairs.subarray(0, half)));
  await conn.send(beginRequest(2));
  const refused = await readResponse(conn, 2);
  assert.equal(refused.protocolStatus, CANT_MPX_CONN, 'END_REQUEST protocolStatus for request 2');
  assert.equal(refused.stdoutRecords.length, 0, 'no STDOUT for request 2');

  await conn.send(...streamRecords(T.PARAMS, 1, pairs.subarray(half)), record(T.STDIN, 1));
  const json = assertJsonResponse(await readResponse(conn, 1));
  assert.equal(json.ok, true);
  conn.destroy();
});

test('FCGI_GET_VALUES: MPXS_CONNS 0, MAX_CONNS and MAX_REQS positive, unknown names left out', async () => {
  const conn = await FcgiConnection.open();
  const query = { FCGI_MAX_CONNS: '', FCGI_MAX_REQS: '', FCGI_MPXS_CONNS: '', FOO: '' };
  await conn.send(record(T.GET_VALUES, 0, encodePairs(query)));
  const r = await conn.nextRecord('the GET_VALUES_RESULT');
  assert.equal(r.type, T.GET_VALUES_RESULT, `answered ${describeRecord(r)}`);
  assert.equal(r.id, 0);
  const values = new Map(decodePairs(r.content));
  assert.equal(values.get('FCGI_MPXS_CONNS'), '0', `FCGI_MPXS_CONNS in ${[...values]}`);
  for (const name of ['FCGI_MAX_CONNS', 'FCGI_MAX_REQS']) {
    assert.match(values.get(name) ?? '(missing)', /^[1-9][0-9]*$/, `${name} in ${[...values]}`);
  }
  assert.equal(values.has('FOO'), false, `FOO answered: ${[...values]}`);
  conn.destroy();
});

test('a management record of an unknown type: FCGI_UNKNOWN_TYPE, the connection serves on', async () => {
  const conn = await FcgiConnection.open();
  await conn.send(record(42, 0, Buffer.from('whatever')));
  const r = await conn.nextRecord('the UNKNOWN_TYPE answer');
  assert.equal(r.type, T.UNKNOWN_TYPE, `answered ${describeRecord(r)}`);
  assert.equal(r.id, 0);
  assert.equal(r.content.length, 8, 'UNKNOWN_TYPE body length');
  assert.equal(r.content[0], 42, 'the unknown type echoed');
  await assertHealthy(conn, 1);
  conn.destroy();
});

test('a body in several STDIN records is read whole: POST /user stores the nickName', async () => {
  const conn = await FcgiConnection.open();
  const session = await theSession();
  const nickName = `fcgi-${crypto.randomBytes(4).toString('hex')}`;
  const body = Buffer.from(JSON.stringify({ nickName }));
  await conn.send(beginRequest(4), ...streamRecords(T.PARAMS, 4, encodePairs(postUserParams(session, body.length))));
  // Three STDIN records of a few bytes each, each written on its own.
  for (const part of streamRecords(T.STDIN, 4, body, { cuts: [5, 12], end: false })) await conn.send(part);
  await conn.send(record(T.STDIN, 4));
  const json = assertJsonResponse(await readResponse(conn, 4));
  assert.equal(json.code, 0, JSON.stringify(json));
  assert.equal(json.data.userInfo.nickName, nickName, JSON.stringify(json));
  conn.destroy();
});

test('FCGI_ABORT_REQUEST while the body is read: END_REQUEST for it, the connection serves on', async () => {
  const session = await theSession();
  const conn = await FcgiConnection.open();
  await conn.send(beginRequest(9), ...streamRecords(T.PARAMS, 9, encodePairs(postUserParams(session, 1000))),
    record(T.STDIN, 9, Buffer.from('{"nickName')));
  await conn.send(record(T.ABORT_REQUEST, 9));
  // Any status; STDOUT before the END_REQUEST is allowed.
  await readResponse(conn, 9);
  await assertHealthy(conn, 10);
  conn.destroy();
});

test('bad input only ends the offending connection', async (t) => {
  await t.test('a record of version 2: connection closed', async () => {
    const conn = await FcgiConnection.open();
    await conn.send(record(T.BEGIN_REQUEST, 1, beginRequest(1).subarray(8), { version: 2 }));
    await conn.waitClosed('the close after a version 2 record');
  });
  await t.test('a name-value pair longer than the PARAMS stream: connection closed', async () => {
    const conn = await FcgiConnection.open();
    // Name length 5, value length 200, then the stream ends after 3 bytes.
    const truncated = Buffer.concat([Buffer.from([5]), encodeLength(200), Buffer.from('ABC')]);
    await conn.send(beginRequest(1), ...streamRecords(T.PARAMS, 1, truncated), record(T.STDIN, 1));
    await conn.waitClosed('the close after a truncated name-value pair');
  });
  await t.test('half a record header, then the client closes', async () => {
    const conn = await FcgiConnection.open();
    await conn.send(beginRequest(1).subarray(0, 4));
    conn.destroy();
  });
  await t.test('BEGIN_REQUEST and PARAMS, then the client closes before STDIN', async () => {
    const conn = await FcgiConnection.open();
    await conn.send(beginRequest(1), ...streamRecords(T.PARAMS, 1, encodePairs(HEALTHZ)));
    conn.destroy();
  });
  await assertServing();
});

test('PARAMS over 1 MiB: the server closes the connection instead of buffering', async () => {
  const conn = await FcgiConnection.open();
  const RECORD = 60000;
  const pairs = Buffer.concat([encodePairs(HEALTHZ), encodePair('HTTP_X_FOO', 'f'.repeat(20 * RECORD))]);
  const cuts = [];
  for (let at = RECORD; at < pairs.length; at += RECORD) cuts.push(at);
  await conn.send(beginRequest(1), ...streamRecords(T.PARAMS, 1, pairs, { cuts }), record(T.STDIN, 1));
  await conn.waitClosed(`the close after ${pairs.length} bytes of PARAMS`);
  await assertServing();
});

test('100 connections at once, one keep-conn /healthz each: all answered 200', async () => {
  const COUNT = 100;
  const one = async () => {
    const conn = await FcgiConnection.open();
    try {
      await conn.send(...requestRecords(1, HEALTHZ));
      return assertJsonResponse(await readResponse(conn, 1, 2 * WAIT_MS));
    } finally {
      conn.destroy();
    }
  };
  const results = await Promise.allSettled(Array.from({ length: COUNT }, one));
  const failed = results.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
  assert.deepEqual(failed, [], `${failed.length} of ${COUNT} failed`);
  for (const r of results) assert.equal(r.value.ok, true);
});

// How many descriptors login-fcgi has open.
function loginFdCount() {
  const pid = fs.readFileSync(path.join(env.STACK_DIR, 'pid', 'login.pid'), 'utf8').trim();
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

test('however the web server ends a connection, login-fcgi closes its side and keeps no descriptor', async () => {
  // A request for no endpoint: answered 404 without the database, so no
  // worker opens its database connection (a descriptor) meanwhile.
  const baseline = loginFdCount();
  const NOWHERE = { ...HEALTHZ, SCRIPT_NAME: '/no-such-endpoint', REQUEST_URI: '/no-such-endpoint' };
  const request = Buffer.concat(requestRecords(1, NOWHERE)); // FCGI_KEEP_CONN
  // Every worker busy (more than LOGIN_WORKERS, 32, connections each stuck in
  // the middle of PARAMS), so that what the connections below send, up to
  // the end of their stream, is all there before a worker reads it.
  const blockers = await Promise.all(Array.from({ length: 40 }, () => FcgiConnection.open()));
  for (const b of blockers) await b.send(request.subarray(0, 30));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const endings = {
    // The request and the end of the stream come in together: login-fcgi
    // answers, then must read the end rather than wait for a next request.
    'a keep-conn request and the close at once': (c) => c.socket.end(request),
    'half a record header, then the close': (c) => c.socket.end(request.subarray(0, 4)),
    'BEGIN_REQUEST and part of PARAMS, then the close': (c) => c.socket.end(request.subarray(0, 30)),
    'the close without a byte': (c) => c.socket.end(),
  };
  const PER_ENDING = 10;
  const ended = [];
  for (const [what, end] of Object.entries(endings)) {
    for (let i = 0; i < PER_ENDING; i++) {
      const c = await FcgiConnection.open();
      end(c);
      ended.push([what, c]);
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (const b of blockers) b.destroy(); // the workers are free again
  const results = await Promise.allSettled(ended.map(([what, c]) => c.waitClosed(what)));
  const open = ended.filter((_, i) => results[i].status === 'rejected').map(([what]) => what);
  assert.deepEqual(open, [], `${open.length} of ${ended.length} connections still open on login-fcgi's side`);
  // A request whose client is gone before the answer is written.
  for (let i = 0; i < PER_ENDING; i++) {
    const c = await FcgiConnection.open();
    c.socket.write(request);
    c.destroy();
  }
  let fds = loginFdCount();
  for (const t0 = Date.now(); fds > baseline && Date.now() - t0 < WAIT_MS; fds = loginFdCount()) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(fds <= baseline, `login-fcgi has ${fds} descriptors open, ${baseline} before`);
  await assertServing();
});

// Whether process pid has ended (gone, or a zombie nobody has reaped yet).
function hasExited(pid) {
  try {
    return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

// Start login-fcgi again and wait until it serves.
async function restartLogin() {
  stack('svc-start', 'login');
  for (const t0 = Date.now(); ; await new Promise((resolve) => setTimeout(resolve, 100))) {
    try {
      await assertServing();
      return;
    } catch (e) {
      if (Date.now() - t0 > 30000) throw e;
    }
  }
}

// Stopping frees the connections no worker serves. When nginx stops with
// login-fcgi (Ctrl-C on `make run` signals both), the close of those
// connections can be reported in the same epoll batch as the stop, after
// it: login-fcgi then called a freed connection's watch and crashed. Each
// cycle keeps 60 connections idle, then sends SIGTERM and closes them all
// at once; login-fcgi must log "stopped" every time.
test('SIGTERM while the web server closes every kept connection: login-fcgi stops cleanly', { timeout: 120000 }, async () => {
  const CYCLES = 8;
  const CONNS = 60;
  const logFile = path.join(env.STACK_DIR, 'log', 'login.log');
  try {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const pid = Number(fs.readFileSync(path.join(env.STACK_DIR, 'pid', 'login.pid'), 'utf8'));
      const conns = await Promise.all(Array.from({ length: CONNS }, () => FcgiConnection.open()));
      for (const c of conns) await assertHealthy(c, 1); // then idle, kept (FCGI_KEEP_CONN)
      process.kill(pid, 'SIGTERM');
      for (const c of conns) c.destroy();
      for (const t0 = Date.now(); !hasExited(pid); await new Promise((resolve) => setTimeout(resolve, 50))) {
        assert.ok(Date.now() - t0 < 15000, `login-fcgi (pid ${pid}) still running 15 s after SIGTERM`);
      }
      const mine = fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes(`login-fcgi[${pid}]`));
      assert.ok(mine.some((l) => / info stopped$/.test(l)),
        `cycle ${cycle + 1}: login-fcgi (pid ${pid}) ended without "stopped"; its last lines:\n${mine.slice(-3).join('\n')}`);
      await restartLogin();
    }
  } finally {
    const pidFile = path.join(env.STACK_DIR, 'pid', 'login.pid');
    if (!fs.existsSync(pidFile) || hasExited(Number(fs.readFileSync(pidFile, 'utf8')))) await restartLogin();
  }
});
