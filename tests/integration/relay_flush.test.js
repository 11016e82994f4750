// relay_flush.test.js -- RELAY_FLUSH_INTERVAL on an extra relay: a member
// written less than an interval ago gets its next frames at its flush tick,
// several in one write, while a sender's own message (its acknowledgement)
// is written at once, so a client that waits for it is not held.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { newSession } = require('../lib/sessions');
const { startRelay } = require('../lib/relay-proc');
const { ChatClient, closeAll, uniqueRoom, sleep } = require('../lib/chat-client');

const relays = [];
after(async () => { for (const r of relays) await r.stop(); });

// Arrival times (ms) grouped into bursts: frames of one write arrive
// together; a later write is at least a commit apart.
function bursts(times) {
  const out = [];
  for (const t of times) {
    if (out.length && t - out[out.length - 1].at <= 2) out[out.length - 1].n += 1;
    else out.push({ at: t, n: 1 });
  }
  return out;
}

test('RELAY_FLUSH_INTERVAL=1s: the sender has its own messages at once, the other member at its tick', async (t) => {
  const relay = await startRelay({ RELAY_FLUSH_INTERVAL: '1s' });
  relays.push(relay);
  const via = { port: relay.port };
  const room = uniqueRoom('flush');
  const a = await ChatClient.join(newSession(), { room, via, label: 'A' });
  const b = await ChatClient.join(newSession(), { room, via, label: 'B' });
  t.after(() => closeAll(a, b));
  await sleep(1100); // neither written within an interval

  const arrivals = [];
  b.ws.on('message', () => arrivals.push(Date.now()));
  const fromB = b.mark();

  // Six messages, each sent once the previous one came back. Held for the
  // tick, each after the first would wait up to a second.
  const t0 = Date.now();
  const sent = [];
  for (let i = 0; i < 6; i++) sent.push(await a.say(`flush ${i}`));
  const took = Date.now() - t0;
  t.diagnostic(`six messages, each after the echo of the previous one: ${took} ms`);
  assert.deepEqual(sent.map((m) => m.type), Array(6).fill('user'));
  assert.deepEqual(sent.map((m) => m.id), sent.map((_, i) => sent[0].id + i), 'consecutive ids');
  assert.ok(took < 2500, `the sender's echoes waited for the flush tick: ${took} ms for six`);

  // The other member has all six, in order, in few writes: the first at
  // once (idle for an interval), the rest at its tick (two if a tick fell
  // within the burst), not one write per message.
  const ids = new Set(sent.map((m) => m.id));
  const got = await b.waitCount((f) => (f.type === 'user' || f.type === 'remote') && ids.has(f.id), 6,
    { from: fromB, timeout: 5000, what: 'the six messages at B' });
  assert.deepEqual(got.map((f) => f.id), sent.map((m) => m.id), 'B has them in order');
  const writes = bursts(arrivals);
  t.diagnostic(`B's arrivals: ${writes.map((w) => `${w.n} at +${w.at - t0} ms`).join(', ')}`);
  assert.ok(writes.length <= 3, `B was written ${writes.length} times for six messages`);
});
