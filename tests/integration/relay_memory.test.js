// relay_memory.test.js -- after waves of protocol abuse the relay's memory
// and file descriptors return to their baseline, and it still chats.
//
// The ASan build keeps freed memory in quarantine, so this test runs an
// extra relay from the RELEASE build (make test builds both) against the
// stack's database. Each wave opens 40 hostile connections at once: unmasked
// frames, 2^63 lengths, oversized pings, invalid UTF-8, bad close codes,
// messages over RELAY_MAX_MESSAGE, handshake heads that never end and ones
// that stall until RELAY_HANDSHAKE_TIMEOUT. The baseline is taken after a
// first wave, so allocator warm-up does not count as growth.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { ROOT } = require('../lib/harness');
const { newSession } = require('../lib/sessions');
const { startRelay } = require('../lib/relay-proc');
const { ChatClient, RawConn, rawUpgrade, encodeFrame, metrics, uniqueRoom, assertChat, sleep } = require('../lib/chat-client');

const RELEASE = path.join(ROOT, 'build', 'release');
const WAVES = 4;
const RSS_SLACK_KB = 1024;   // 160 hostile connections: a leak of 6.5 KB each shows

function usage(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rssKb: Number(status.match(/VmRSS:\s+(\d+)/)[1]), fds: fs.readdirSync(`/proc/${pid}/fd`).length };
}

// One hostile connection of kind k against the relay on `port`; resolves
// when the relay has dropped it (errors are the point, so they are swallowed).
async function abuse(port, k, session, room) {
  const chat = `/chat?X-WX-Id=${session.id}&X-WX-Skey=${session.skey}&room=${room}`;
  const frames = [
    [{ payload: '{"text":true,"content":"x"}', mask: false }],              // unmasked client frame
    [{ opcode: 1, length: 2n ** 63n, payload: Buffer.alloc(64) }],          // 2^63 length header
    [{ opcode: 9, payload: Buffer.alloc(200, 1) }],                         // control frame over 125
    [{ opcode: 1, payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }],       // invalid UTF-8
    [{ opcode: 8, payload: Buffer.from([0x03, 0xe7]) }],                    // close code 999
    [{ opcode: 1, payload: Buffer.alloc(70 * 1024, 0x61) }],                // over RELAY_MAX_MESSAGE
  ];
  let conn;
  try {
    if (k < frames.length) {
      conn = await rawUpgrade(port, chat);
      for (const f of frames[k]) await conn.write(encodeFrame(f));
    } else {
      conn = new RawConn(port);
      await conn.connected;
      const head = `GET ${chat} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n`;
      // k = 6: a head that never ends (over RELAY_HANDSHAKE_MAX); k = 7: stalls.
      await conn.write(k === 6 ? head + `X-Pad: ${'a'.repeat(12000)}\r\n` : head);
    }
    await conn.waitEnd(15000);
  } catch { /* the relay dropped us first, or refused: both fine */ } finally {
    if (conn) conn.destroy();
  }
}

async function wave(port, sessions, room) {
  await Promise.all(sessions.map((s, i) => abuse(port, i % 8, s, room)));
}

test('memory and descriptors return to baseline after waves of protocol abuse', { timeout: 180000 }, async () => {
  const relay = await startRelay({ RELAY_HANDSHAKE_TIMEOUT: '1s', LOG_LEVEL: 'warn' }, { binDir: RELEASE });
  try {
    const room = uniqueRoom('mem');
    const sessions = Array.from({ length: 40 }, () => newSession());
    const settle = async () => {
      for (let i = 0; i < 100; i++) {
        if ((await metrics(relay.metricsPort)).values.relay_connections === 0) break;
        await sleep(100);
      }
      await sleep(300);
    };
    await wave(relay.port, sessions, room);
    await settle();
    const base = usage(relay.pid);
    const samples = [];
    for (let w = 0; w < WAVES; w++) {
      await wave(relay.port, sessions, room);
      await settle();
      samples.push(usage(relay.pid));
    }
    const last = samples[samples.length - 1];
    const line = `baseline ${base.rssKb} KiB / ${base.fds} fds; after each wave ${samples.map((s) => `${s.rssKb}/${s.fds}`).join(', ')}`;
    console.log(`# ${line}`);
    assert.equal(last.fds, base.fds, `descriptors back to baseline: ${line}`);
    assert.ok(last.rssKb <= base.rssKb + RSS_SLACK_KB, `RSS within ${RSS_SLACK_KB} KiB of baseline: ${line}`);

    const user = newSession();
    const c = await ChatClient.join(user, { room, via: { port: relay.port }, label: 'after the abuse' });
    try {
      assertChat(await c.say('still here'), { type: 'user', sender: user });
    } finally {
      c.terminate();
    }
  } finally {
    await relay.stop();
  }
});
