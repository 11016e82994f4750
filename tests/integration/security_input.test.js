// security_input.test.js -- hostile input in every field, through nginx:
// SQL injection strings (nickName, message content, cid, room, since,
// X-WX-Skey, X-WX-Id, X-WX-Code) are stored verbatim or refused, never
// executed (the tables are intact afterwards); image and avatar URLs with
// javascript:, data:, other hosts and (encoded) path tricks are refused;
// hostile upload file names cannot place a file anywhere (the stored name is
// the content hash); GET /files/ path tricks serve nothing outside the
// upload directory.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { env, sql, http, MAGIC } = require('../lib/harness');
const { loginAs } = require('../lib/fixtures');
const { roomMessages } = require('../lib/sessions');
const { ChatClient, RawConn, closeAll, uniqueRoom, newCid, isChat } = require('../lib/chat-client');

const RUN = crypto.randomBytes(3).toString('hex');
const NGINX_PORT = Number(new URL(env.BASE_URL).port);

const SQLI = [
  "'; DROP TABLE messages; --",
  "Robert'); DROP TABLE users;--",
  "' OR '1'='1",
  "1; UPDATE users SET nickname = 'pwned'; --",
  "$$; DELETE FROM sessions; $$",
  "\\'; TRUNCATE rooms CASCADE; --",
  "'||(SELECT string_agg(openid, ',') FROM users)||'",
  "1' UNION SELECT skey_hash FROM sessions --",
  "E'\\x27'; SELECT pg_sleep(0); --",
  "%27%3B%20DROP%20TABLE%20users%3B--",
];

const login = loginAs;

// What an injection would destroy: table row counts and a canary row.
function dbState() {
  return sql(`SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM sessions WHERE revoked_at IS NULL),
                     (SELECT count(*) FROM rooms), (SELECT count(*) FROM messages),
                     (SELECT count(*) FROM users WHERE nickname = 'pwned')`)[0].map(Number);
}

test('SQL injection strings in every field are stored as plain text or refused, never executed', { timeout: 120000 }, async (t) => {
  const s = await login(`sqli-${RUN}`);
  const before = dbState();
  // nickName through POST /user: stored verbatim
  for (const nick of SQLI) {
    const res = await http('POST', '/user', { headers: Object.assign({ 'Content-Type': 'application/json' }, s.headers),
                                              body: JSON.stringify({ nickName: nick }) });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.data.userInfo.nickName, nick);
    assert.equal(sql(`SELECT nickname FROM users WHERE id = :'u'`, { u: s.uid })[0][0], nick);
  }
  // message content and cid: stored verbatim, and the nickname travels verbatim too
  const room = uniqueRoom('sqli');
  const c = await ChatClient.join(s, { room, label: 'sqli' });
  t.after(() => closeAll(c));
  const sent = [];
  for (let i = 0; i < SQLI.length; i++) {
    const cid = SQLI[i].slice(0, 64);
    const ack = await c.say(SQLI[i], { cid: i % 2 ? cid : newCid() });
    assert.equal(ack.content, SQLI[i]);
    assert.equal(ack.nickName, SQLI[SQLI.length - 1]);
    sent.push(ack);
  }
  const rows = roomMessages(room);
  assert.deepEqual(rows.map((r) => r.content), SQLI.slice(0, sent.length));
  assert.deepEqual(rows.map((r) => r.cid), sent.map((a) => a.cid));
  // room and since parameters: refused (ERR_BAD_MESSAGE, close 1008), nothing created
  for (const q of [{ room: SQLI[0] }, { room: "lobby' OR '1'='1" }, { room: uniqueRoom('x'), since: '0; DROP TABLE messages' },
                   { room: uniqueRoom('x'), since: "1' OR '1'='1" }]) {
    const bad = await ChatClient.open(s, Object.assign({ label: JSON.stringify(q) }, q));
    try {
      const f = await bad.waitFor(() => true, { what: 'the first frame' });
      assert.equal(f.error, 'ERR_BAD_MESSAGE', `${JSON.stringify(q)}: ${JSON.stringify(f)}`);
      assert.equal((await bad.waitClose()).code, 1008);
    } finally {
      bad.terminate();
    }
  }
  assert.equal(sql(`SELECT count(*) FROM rooms WHERE name LIKE '%DROP%' OR name LIKE '%''%'`)[0][0], '0');
  // X-WX-Skey and X-WX-Id: simply not a session, on HTTP and WebSocket
  for (const inj of SQLI) {
    for (const headers of [{ 'X-WX-Skey': inj }, { 'X-WX-Id': inj, 'X-WX-Skey': s.skey }, { 'X-WX-Id': s.id, 'X-WX-Skey': `${s.skey}' OR '1'='1` }]) {
      const res = await http('GET', '/user', { headers });
      assert.equal(res.status, 401, `${JSON.stringify(headers)}: ${res.text}`);
      const q = await http('GET', `/user?${new URLSearchParams(headers)}`);
      assert.equal(q.status, 401, `query ${JSON.stringify(headers)}: ${q.text}`);
    }
    const ws = await ChatClient.open({ skey: inj }, { room, label: 'skey injection' });
    try {
      const f = await ws.waitFor(() => true, { what: 'the first frame' });
      assert.equal(f[MAGIC], 1, JSON.stringify(f));
      assert.equal((await ws.waitClose()).code, 4401);
    } finally {
      ws.terminate();
    }
  }
  // X-WX-Code: handed to WeChat as a parameter, refused by WeChat (401), never crashes the service
  for (const inj of SQLI) {
    const res = await http('GET', `/login?${new URLSearchParams({ 'X-WX-Code': inj })}`);
    assert.ok([400, 401].includes(res.status), `${inj}: ${res.status} ${res.text}`);
    assert.equal(res.json.error, 'ERR_LOGIN_FAILED');
  }
  // everything is still there; nothing but this test's own rows changed
  const after = dbState();
  assert.equal(after[0], before[0], 'users');
  assert.ok(after[1] >= before[1], 'sessions were not deleted or revoked');
  assert.equal(after[2], before[2] + 1, 'rooms: only this test\'s room was added');
  assert.equal(after[3], before[3] + sent.length, 'messages: only this test\'s rows were added');
  assert.equal(after[4], 0, 'no nickname was overwritten by an injected UPDATE');
  assert.equal((await http('GET', '/user', { headers: s.headers })).status, 200, 'the session still works');
});

// URLs no client may be sent to: schemes, other hosts, and path tricks in
// their plain, encoded and double-encoded forms. (Unicode look-alikes of
// '.' such as U+FF0E are not dots to any URL parser or to nginx: a client
// requests them percent-encoded and gets 404, so they are no trick.)
const HOSTILE_URLS = [
  'javascript:alert(1)', ' javascript:alert(1)', 'java\tscript:alert(1)', 'JAVASCRIPT:alert(1)', 'jav&#x61;script:alert(1)',
  'vbscript:msgbox(1)', 'data:text/html,<script>alert(1)</script>', 'data:image/svg+xml;base64,PHN2Zz4=',
  'file:///etc/passwd', 'http://evil.example/files/a.png', 'https://evil.example/files/a.png', '//evil.example/files/a.png',
  '\\\\evil.example\\files\\a.png', 'https:/\\evil.example/files/a.png', '/\\evil.example/files/a.png',
  '/files/../../etc/passwd', '/files/a/../../../etc/passwd', '/files/..', '/files/..\\..\\etc\\passwd',
  '/files/%2e%2e/etc/passwd', '/files/%2E%2E%2Fetc%2Fpasswd', '/files/.%2e/etc/passwd', '/files/%2e./etc/passwd',
  '/files/%252e%252e/etc/passwd', '/files/%c0%ae%c0%ae/etc/passwd', '/files/%u002e%u002e/etc/passwd',
  '/files/a.png%00.html', '/files/a.png\u0000', '/files/a.png\r\nSet-Cookie: x=1',
  '/files@evil.example/a.png', '/files/../files/../../env', '/FILES/a.png', '/files', '/fil es/a.png',
];

// The relay's rule (relay-api.md) also refuses '?' and '#' after a relative
// prefix; login-api.md's avatar rule does not list them.
const RELAY_ONLY = ['/files/a.png?javascript:alert(1)', '/files/a.png#javascript:alert(1)'];

test('image URLs (relay) and avatar URLs (POST /user): javascript:, data:, other hosts, plain and encoded path tricks are refused', { timeout: 120000 }, async (t) => {
  const s = await login(`urls-${RUN}`);
  const avatarBefore = sql(`SELECT avatar_url FROM users WHERE id = :'u'`, { u: s.uid })[0][0];
  const room = uniqueRoom('urls');
  const watcher = await ChatClient.join(await login(`urlwatch-${RUN}`), { room, label: 'watcher' });
  t.after(() => closeAll(watcher));
  const accepted = [];
  // in groups under the rate-limit burst, each on a fresh connection
  for (let i = 0; i < HOSTILE_URLS.length + RELAY_ONLY.length; i += 8) {
    const c = await ChatClient.join(s, { room, label: `urls#${i}` });
    try {
      for (const url of [...HOSTILE_URLS, ...RELAY_ONLY].slice(i, i + 8)) {
        const r = await c.request({ gallery: true, url, cid: newCid() });
        if (r.type !== 'error' || r.error !== 'ERR_BAD_MESSAGE') accepted.push(`relay: ${JSON.stringify(url)} -> ${JSON.stringify(r).slice(0, 100)}`);
      }
    } finally {
      c.terminate();
    }
  }
  for (const avatarUrl of HOSTILE_URLS) {
    const res = await http('POST', '/user', { headers: Object.assign({ 'Content-Type': 'application/json' }, s.headers),
                                              body: JSON.stringify({ avatarUrl }) });
    if (res.status !== 400 || res.json.error !== 'ERR_BAD_REQUEST') accepted.push(`avatar: ${JSON.stringify(avatarUrl)} -> ${res.status}`);
  }
  assert.deepEqual(accepted, [], 'every hostile URL is refused');
  assert.equal(roomMessages(room).length, 0, 'no image stored');
  assert.equal(watcher.chats().length, 0, 'nothing reached the room');
  assert.equal(sql(`SELECT avatar_url FROM users WHERE id = :'u'`, { u: s.uid })[0][0], avatarBefore, 'avatar unchanged');
  // the legitimate form still passes on both
  const ok = `/files/${'ab'.repeat(32)}.png`;
  const c = await ChatClient.join(s, { room, label: 'legit' });
  try {
    const r = await c.request({ gallery: true, url: ok, cid: newCid() });
    assert.equal(r.type, 'user', JSON.stringify(r));
  } finally {
    c.terminate();
  }
  const res = await http('POST', '/user', { headers: Object.assign({ 'Content-Type': 'application/json' }, s.headers), body: JSON.stringify({ avatarUrl: ok }) });
  assert.equal(res.status, 200, res.text);
});

// --- uploads ----------------------------------------------------------------

function png(seed) {
  const crc32 = (buf) => {
    let c = ~0;
    for (const b of buf) { c ^= b; for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1)); }
    return ~c >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(1, 0); ihdr.writeUInt32BE(1, 4); ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr),
                        chunk('IDAT', zlib.deflateSync(Buffer.from([0, seed & 255, (seed >> 8) & 255, 7]))), chunk('IEND', Buffer.alloc(0))]);
}

// Every file under dir (relative paths), skipping the stack's own busy directories.
function listFiles(dir, skip = new Set(['pg', 'log', 'nginx'])) {
  const out = [];
  const walk = (d, rel) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (!rel && (skip.has(e.name) || e.name.startsWith('sanitizer'))) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

test('hostile upload file names: the stored name is the content hash, nothing is written outside the upload directory', { timeout: 60000 }, async () => {
  const s = await login(`upl-${RUN}`);
  const tag = `escape-${RUN}`;
  const outside = [
    path.join(env.FILES_DIR, '..', `${tag}.png`), path.join(env.FILES_DIR, '..', '..', `${tag}.png`),
    path.join('/tmp', `${tag}.png`), path.join(env.FILES_DIR, `${tag}.png`),
  ];
  const names = [
    `../${tag}.png`, `../../${tag}.png`, `/tmp/${tag}.png`, `..\\..\\${tag}.png`, `%2e%2e%2f${tag}.png`,
    `....//${tag}.png`, `${tag}.png\u0000.html`, `${tag}.png/../../x`, `${'../'.repeat(40)}tmp/${tag}.png`,
    `${tag}.png"; name="x`, `${tag}\r\n.png`, `${'a'.repeat(5000)}.png`, `${tag}.png`,
  ];
  const stackBefore = listFiles(env.STACK_DIR).filter((f) => !f.startsWith('files/'));
  const stored = [];
  for (let i = 0; i < names.length; i++) {
    const data = png(i * 7919 + crypto.randomInt(1 << 16));
    const boundary = `b${crypto.randomBytes(8).toString('hex')}`;
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${names[i]}"\r\n` +
                 'Content-Type: image/png\r\n\r\n';
    const body = Buffer.concat([Buffer.from(head, 'utf8'), data, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const res = await http('POST', '/upload', {
      headers: Object.assign({ 'Content-Type': `multipart/form-data; boundary=${boundary}` }, s.headers), body,
    });
    assert.ok([200, 400].includes(res.status), `${JSON.stringify(names[i]).slice(0, 60)}: ${res.status} ${res.text}`);
    if (res.status === 200) {
      const hash = crypto.createHash('sha256').update(data).digest('hex');
      assert.equal(res.json.url, `/files/${hash}.png`, 'the name is the content hash, whatever the file name');
      stored.push(`${hash}.png`);
    }
  }
  assert.ok(stored.length >= names.length - 3, `most hostile names are simply ignored: ${stored.length} of ${names.length}`);
  for (const p of outside) assert.ok(!fs.existsSync(p), `${p} was written`);
  const files = fs.readdirSync(env.FILES_DIR);
  for (const f of stored) assert.ok(files.includes(f), `${f} stored`);
  assert.deepEqual(files.filter((f) => !/^[0-9a-f]{64}\.(png|jpg|gif|webp)$/.test(f)), [], 'only content-addressed names');
  assert.deepEqual(listFiles(env.STACK_DIR).filter((f) => !f.startsWith('files/')), stackBefore,
                   'no new file next to the upload directory');
});

test('GET /files/ path tricks through nginx serve nothing outside the upload directory', { timeout: 60000 }, async () => {
  // A canary next to the upload directory, named like an upload, and the
  // stack's env file (it holds secrets) one level up.
  const canaryName = `${crypto.randomBytes(32).toString('hex')}.png`;
  const canaryText = `canary-${RUN}-must-never-be-served`;
  const canary = path.join(env.FILES_DIR, '..', canaryName);
  fs.writeFileSync(canary, canaryText);
  try {
    const targets = [canaryName, 'env', 'pg/data/PG_VERSION', 'nginx/nginx.conf'];
    const tricks = [];
    for (const t of targets) {
      const enc = t.replace(/\//g, '%2f');
      tricks.push(`/files/../${t}`, `/files/..%2f${enc}`, `/files/%2e%2e/${t}`, `/files/%2e%2e%2f${enc}`,
                  `/files/.%2e/${t}`, `/files/%252e%252e/${t}`, `/files/..;/${t}`, `/files/....//${t}`,
                  `/files/..\\${t}`, `/files/%5c..%5c${t}`, `/files//../${t}`, `/files/${'ab'.repeat(32)}.png/../../${t}`,
                  `/files/%c0%ae%c0%ae/${t}`, `/files/../../${path.basename(env.STACK_DIR)}/${t}`, `//files/../${t}`);
    }
    tricks.push('/files/', '/files/.', '/files/..', '/files/%2e', '/files/%00', `/files/${canaryName}%00.png`);
    const publicIndex = await (await fetch(`${env.BASE_URL}/`)).text();
    const served = [];
    for (const p of tricks) {
      // a raw request line, so no client library normalises the path first
      const conn = new RawConn(NGINX_PORT);
      await conn.connected;
      await conn.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      await conn.waitEnd(5000).catch(() => {});
      const body = conn.buf.toString('utf8');   // what follows the response head
      const status = conn.head ? conn.head.status : 0;
      conn.destroy();
      // 400/404, or (a path normalised to "/") the public index page; never anything else
      const ok = [400, 404].includes(status) || (status === 200 && body === publicIndex);
      if (!ok || body.includes(canaryText) || /WX_SECRET|worker_processes/.test(body)) {
        served.push(`${p} -> ${status} ${body.slice(0, 80)}`);
      }
    }
    assert.deepEqual(served, [], 'path tricks serve nothing outside the upload directory');
    // while the legitimate form serves what is in the upload directory
    const res = await fetch(`${env.BASE_URL}/files/${canaryName}`);
    assert.equal(res.status, 404, 'the canary is not in the upload directory, so not served');
  } finally {
    fs.unlinkSync(canary);
  }
});
