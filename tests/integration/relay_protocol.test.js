// relay_protocol.test.js -- protocol abuse with raw TCP sockets straight to
// relay 1: fragmentation with an interleaved ping (valid), UTF-8 split across
// fragments, and the violations RFC 6455 and the contract close with 1002,
// 1007 or 1009; handshakes without a key (400), with version 8 (426), or
// whose head never ends (431 / closed). After each case a normal client on
// the same relay still chats and a long-lived one stays connected.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { newSession, roomMessages } = require('../lib/sessions');
const {
  ChatClient, RawConn, rawUpgrade, rawHttp, encodeFrame, relayPorts, uniqueRoom, newCid, isChat, assertChat, closeAll,
} = require('../lib/chat-client');

const PORT = () => relayPorts()[0];
const room = uniqueRoom('proto');
let user;
let observer;

before(async () => {
  user = newSession();
  observer = await ChatClient.join(newSession(), { room, via: 1, label: 'observer@relay1' });
});
after(() => closeAll(observer));

function chatPath(s = user, r = room) {
  return `/chat?X-WX-Id=${encodeURIComponent(s.id)}&X-WX-Skey=${encodeURIComponent(s.skey)}&room=${r}`;
}

// A raw WebSocket on relay 1 past the system frame.
async function rawJoin() {
  const conn = await rawUpgrade(PORT(), chatPath());
  assert.equal(conn.head.status, 101, `upgrade answered ${conn.head.status}`);
  const sys = await conn.waitFrame((f) => f.opcode === 1, 'system frame');
  assert.equal(sys.json && sys.json.type, 'system', `first frame ${sys.text}`);
  return conn;
}

// The relay still serves: its long-lived observer is open and a new client chats.
async function stillChats(what) {
  assert.ok(observer.open, `observer still connected after ${what}`);
  const c = await ChatClient.join(user, { room, via: 1, label: `after ${what}` });
  try {
    const ack = await c.say(`after ${what}`);
    assertChat(ack, { type: 'user', sender: user });
    await observer.waitFor((f) => isChat(f) && f.id === ack.id, { what: `message after ${what}` });
  } finally {
    c.terminate();
  }
}

// Send the frames of a violation on a fresh raw socket and expect close `codes`.
async function violation(what, frames, codes) {
  const conn = await rawJoin();
  try {
    for (const f of frames) await conn.write(Buffer.isBuffer(f) ? f : encodeFrame(f));
    const close = await conn.waitCloseFrame();
    assert.ok(close, `${what}: the relay sends a close frame (connection ended without one)`);
    const want = [].concat(codes);
    assert.ok(want.includes(close.code), `${what}: close code ${close.code}, expected ${want.join(' or ')}`);
    await conn.waitEnd();   // and closes the TCP connection
  } finally {
    conn.destroy();
  }
  await stillChats(what);
}

test('a fragmented message with an interleaved ping arrives whole; the ping is answered', async () => {
  const conn = await rawJoin();
  try {
    const cid = newCid();
    const json = Buffer.from(JSON.stringify({ text: true, content: 'fragmented €uro', cid }));
    const cut1 = 10;
    const euro = json.indexOf(Buffer.from('€'));
    const cut2 = euro + 1;     // inside the euro sign: UTF-8 split across fragments
    await conn.frame({ fin: false, opcode: 1, payload: json.subarray(0, cut1) });
    await conn.frame({ opcode: 9, payload: 'ping-1' });
    await conn.frame({ fin: false, opcode: 0, payload: json.subarray(cut1, cut2) });
    await conn.frame({ fin: true, opcode: 0, payload: json.subarray(cut2) });
    const pong = await conn.waitFrame((f) => f.opcode === 10, 'pong');
    assert.equal(pong.payload.toString(), 'ping-1', 'pong echoes the ping payload');
    assert.equal(pong.masked, false, 'server frames are not masked');
    const echo = await conn.waitFrame((f) => f.json && f.json.cid === cid, 'the echo');
    assertChat(echo.json, { type: 'user', content: 'fragmented €uro', cid, sender: user });
    await observer.waitFor((f) => isChat(f) && f.id === echo.json.id, { what: 'the fragmented message' });
    // a clean close is answered with a close
    await conn.frame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]) });
    const close = await conn.waitCloseFrame();
    assert.ok(close, 'close answered');
    assert.ok([1000, null].includes(close.code), `close echo code ${close.code}`);
    await conn.waitEnd();
  } finally {
    conn.destroy();
  }
});

test('frame-level violations close 1002', async () => {
  const json = JSON.stringify({ text: true, content: 'x' });
  await violation('continuation without a start', [{ opcode: 0, payload: json }], 1002);
  await violation('unmasked client frame', [{ opcode: 1, payload: json, mask: false }], 1002);
  await violation('RSV1 set without an extension', [{ opcode: 1, payload: json, rsv: 4 }], 1002);
  await violation('RSV3 set on a ping', [{ opcode: 9, payload: 'x', rsv: 1 }], 1002);
  await violation('control frame over 125 bytes', [{ opcode: 9, payload: Buffer.alloc(126, 0x61) }], 1002);
  await violation('fragmented ping', [{ opcode: 9, payload: 'x', fin: false }], 1002);
  await violation('new text frame inside a fragmented message',
                  [{ opcode: 1, fin: false, payload: '{"text":' }, { opcode: 1, payload: json }], 1002);
  await violation('reserved opcode 3', [{ opcode: 3, payload: 'x' }], 1002);
  await violation('reserved control opcode 0xB', [{ opcode: 0xb, payload: 'x' }], 1002);
});

test('close frames with an invalid code close 1002', async () => {
  for (const code of [999, 1005, 1006, 1015, 2999, 5000]) {
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code);
    await violation(`close frame with invalid code ${code}`, [{ opcode: 8, payload: p }], 1002);
  }
});

test('a close frame with a 1-byte payload (no room for a code) closes 1002', async () => {
  await violation('close frame with a 1-byte payload', [{ opcode: 8, payload: Buffer.from([0x03]) }], 1002);
});

test('lengths: a 2^63 header is refused (1002/1009), a huge or reassembled-too-big message closes 1009', async () => {
  // MSB of the 64-bit length set: a protocol error by RFC 6455 and over the limit anyway
  await violation('2^63 length header', [{ opcode: 1, payload: Buffer.alloc(0), length: 2n ** 63n }], [1002, 1009]);
  // a header claiming a huge frame and nothing after it: refused at once,
  // not when (or if) its payload arrives
  await violation('2^40 length header alone', [{ opcode: 1, payload: Buffer.alloc(0), length: 2n ** 40n }], 1009);
  await violation('RELAY_MAX_MESSAGE + 1 header alone',
                  [{ opcode: 1, payload: Buffer.alloc(0), length: 65537n }], 1009);
  // a header claiming a huge frame, then the first bytes of its payload
  const some = Buffer.alloc(1000, 0x61);
  await violation('2^40 length header', [{ opcode: 1, payload: some, length: 2n ** 40n }], 1009);
  await violation('2^63-1 length header', [{ opcode: 1, payload: some, length: 2n ** 63n - 1n }], 1009);
  const part = Buffer.alloc(40000, 0x61);
  await violation('fragments adding up to more than RELAY_MAX_MESSAGE',
                  [{ opcode: 1, fin: false, payload: part }, { opcode: 0, fin: true, payload: part }], 1009);
  await violation('a single 70000-byte frame', [{ opcode: 1, payload: Buffer.alloc(70000, 0x61) }], 1009);
});

test('invalid UTF-8 closes 1007, also when split across fragments', async () => {
  const head = Buffer.from('{"text":true,"content":"');
  await violation('invalid UTF-8 split across fragments',
                  [{ opcode: 1, fin: false, payload: Buffer.concat([head, Buffer.from([0xe2, 0x82])]) },
                   { opcode: 0, fin: true, payload: Buffer.from([0x41, 0x22, 0x7d]) }], 1007);
  await violation('truncated sequence at the end of the message',
                  [{ opcode: 1, fin: false, payload: head }, { opcode: 0, fin: true, payload: Buffer.from([0xe2, 0x82]) }],
                  1007);
  await violation('code point over U+10FFFF', [{ opcode: 1, payload: Buffer.concat([head, Buffer.from([0xf4, 0x90, 0x80, 0x80, 0x22, 0x7d])]) }], 1007);
  const bad = Buffer.alloc(4);
  bad.writeUInt16BE(4000);
  bad[2] = 0xff; bad[3] = 0xfe;
  await violation('invalid UTF-8 in a close reason', [{ opcode: 8, payload: bad }], [1002, 1007]);
  assert.ok(!roomMessages(room).some((m) => !m.content.startsWith('after ') && !m.content.startsWith('fragmented')),
            'nothing from the violations was stored');
});

test('handshakes: no key 400, version 8 426 with Sec-WebSocket-Version: 13, endless head 431 or closed', async () => {
  const noKey = await rawUpgrade(PORT(), chatPath(), { 'Sec-WebSocket-Key': null });
  assert.equal(noKey.head.status, 400, 'missing Sec-WebSocket-Key');
  await noKey.waitEnd();
  noKey.destroy();
  const v8 = await rawUpgrade(PORT(), chatPath(), { 'Sec-WebSocket-Version': '8' });
  assert.equal(v8.head.status, 426, 'Sec-WebSocket-Version 8');
  assert.equal(v8.head.headers['sec-websocket-version'], '13');
  await v8.waitEnd();
  v8.destroy();
  await stillChats('bad handshakes');

  // a head that never ends: header lines until the relay gives up (cap 8K)
  const conn = new RawConn(PORT());
  await conn.connected;
  try {
    await conn.write(`GET ${chatPath()} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n`);
    let sent = 0;
    while (!conn.ended && !conn.head && sent < 256 * 1024) {
      if (!(await conn.write(`X-Filler-${sent}: ${'f'.repeat(1000)}\r\n`))) break;
      sent += 1024;
      if (sent % 16384 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    await conn.waitEnd(5000);
    assert.ok(sent < 256 * 1024, `the relay kept reading ${sent} bytes of head`);
    if (conn.head) assert.equal(conn.head.status, 431, 'an oversized head is answered 431');
    assert.equal(conn.frames.length, 0);
  } finally {
    conn.destroy();
  }
  await stillChats('endless head');
});

test('plain HTTP: /healthz answers 200 {"ok":true}; garbage is not upgraded and does not hurt', async () => {
  const res = await fetch(`http://127.0.0.1:${PORT()}/healthz`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ok: true });
  const junk = await rawHttp(PORT(), Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]));
  assert.ok(junk.ended, 'TLS bytes on a plain port: connection closed');
  assert.notEqual(junk.status, 101);
  await stillChats('garbage');
});
