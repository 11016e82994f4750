// relay_metrics.test.js -- /metrics on relay 1's metrics port: Prometheus
// text with the series the contract names, and counters that move when
// clients connect, chat and get closed.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { newSession } = require('../lib/sessions');
const { ChatClient, closeAll, metricsPorts, metrics, uniqueRoom, isChat } = require('../lib/chat-client');

const NAMES = ['relay_connections', 'relay_rooms', 'relay_messages_in_total', 'relay_messages_out_total',
               'relay_bytes_in_total', 'relay_bytes_out_total', 'relay_queue_overflows_total',
               'relay_db_roundtrip_seconds', 'relay_db_up'];

const v = (m, name) => m.values[name] || 0;

test('/metrics shows connections, rooms, message and byte counters, closes by code, database state', async (t) => {
  const port = metricsPorts()[0];
  const before = await metrics(port);
  assert.equal(before.status, 200);
  for (const name of NAMES) {
    assert.ok(new RegExp(`^${name}(_sum|_count|_bucket)?(\\{[^}]*\\})? `, 'm').test(before.text), `${name} is exported`);
  }
  assert.match(before.text, /^# TYPE relay_connections gauge$/m);
  assert.match(before.text, /^# TYPE relay_messages_in_total counter$/m);
  assert.equal(v(before, 'relay_db_up'), 1, 'database is up');

  const room = uniqueRoom('metrics');
  const a = await ChatClient.join(newSession(), { room, via: 1, label: 'A' });
  const b = await ChatClient.join(newSession(), { room, via: 1, label: 'B' });
  t.after(() => closeAll(a, b));
  for (let i = 0; i < 3; i++) await a.say(`counted ${i}`);
  await b.waitCount(isChat, 3, { what: 'the 3 messages' });
  const during = await metrics(port);
  assert.ok(v(during, 'relay_connections') >= 2, `relay_connections ${v(during, 'relay_connections')} counts A and B`);
  assert.ok(v(during, 'relay_rooms') >= 1);
  assert.ok(v(during, 'relay_messages_in_total') - v(before, 'relay_messages_in_total') >= 3, 'messages in moved');
  assert.ok(v(during, 'relay_messages_out_total') - v(before, 'relay_messages_out_total') >= 6, 'messages out moved (echo + remote)');
  assert.ok(v(during, 'relay_bytes_in_total') > v(before, 'relay_bytes_in_total'), 'bytes in moved');
  assert.ok(v(during, 'relay_bytes_out_total') > v(before, 'relay_bytes_out_total'), 'bytes out moved');

  // an invalid session: the 4401 close is counted; the gauge goes back down
  const bad = await ChatClient.open({ skey: 'no-such-skey' }, { room, via: 1, label: 'bad' });
  assert.equal((await bad.waitClose()).code, 4401);
  const key = 'relay_closes_total{code="4401"}';
  let after;
  for (let i = 0; i < 20; i++) {   // the relay counts the close once the socket is gone
    after = await metrics(port);
    if (v(after, key) > v(before, key)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(v(after, key) > v(before, key), `${key} moved: ${v(before, key)} -> ${v(after, key)}`);
  a.close();
  b.close();
  await Promise.all([a.closed, b.closed]);
  let end;
  for (let i = 0; i < 20; i++) {
    end = await metrics(port);
    if (v(end, 'relay_connections') <= v(during, 'relay_connections') - 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(v(end, 'relay_connections') <= v(during, 'relay_connections') - 2, 'relay_connections went down by 2');
});
