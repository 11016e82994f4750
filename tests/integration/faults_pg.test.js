// faults_pg.test.js -- PostgreSQL killed (pg_ctl stop -m immediate: every
// backend dies at once, no checkpoint, crash recovery on restart) while
// several clients chat through nginx, and some of them drop their sockets
// during the outage. What users must see: clear errors while the database
// is away (ERR_UNAVAILABLE on sends; ERR_UNAVAILABLE + close 1011 on an
// open), the relays and login-fcgi back by themselves, every acknowledged
// message in the table, resent cids stored once, and every client's view,
// rebuilt with `since`, equal to the table: no loss, no duplicate, same order.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { env, stack, http, wxCode } = require('../lib/harness');
const { newSession, roomMessages, roomRow } = require('../lib/sessions');
const { ChatClient, chatBase, uniqueRoom, relayPorts, closeAll } = require('../lib/chat-client');
const { SteadyClient, drive, settle, checkViews, totals, stackAsync, waitStatus } = require('../lib/steady-client');

const CLIENTS = 6;

test('PostgreSQL killed while clients send: errors meanwhile, self-reconnect, nothing acknowledged lost, no duplicate after since', { timeout: 120000 }, async (t) => {
  const room = uniqueRoom('pgkill');
  const clients = Array.from({ length: CLIENTS }, (_, i) => new SteadyClient({
    base: chatBase('nginx'), session: newSession(), room, label: `pg${i}`,
  }));
  t.after(() => clients.forEach((c) => c.close()));
  await Promise.all(clients.map((c) => c.connect()));
  // chat until every client has some acknowledged messages
  assert.ok(await drive(clients, { timeout: 15000, until: () => clients.every((c) => c.acks.size >= 3) }),
            'every client gets acknowledgements before the fault');
  const latecomer = newSession();   // (sessions are made in SQL: before the outage)
  const ackedBefore = clients.reduce((n, c) => n + c.acks.size, 0);

  let stopped = false;
  let opened;
  try {
    // the kill runs while the clients keep sending
    stopped = true;
    const kill = stackAsync(env.STACK_DIR, 'pg-stop', 'immediate');
    kill.then(() => { kill.done = true; }, () => { kill.done = true; });
    await drive(clients, { timeout: 60000, until: () => kill.done });
    await kill;
    // every client, still connected, gets a clear refusal for what it sends
    const refused = await drive(clients, {
      timeout: 15000, until: () => clients.every((c) => (c.refusals.ERR_UNAVAILABLE || 0) > 0),
    });
    assert.ok(refused, `every sender got ERR_UNAVAILABLE: ${JSON.stringify(clients.map((c) => c.refusals))}`);
    assert.ok(clients.every((c) => c.connected), 'clients stay connected while the database is away');
    // a new connection is told so and closed, not left hanging
    opened = await ChatClient.open(latecomer, { room, label: 'during the outage' });
    const first = await opened.waitFor(() => true, { what: 'the first frame', timeout: 10000 });
    assert.equal(first.type, 'error', JSON.stringify(first));
    assert.equal(first.error, 'ERR_UNAVAILABLE');
    assert.equal((await opened.waitClose(10000)).code, 1011);
    // two clients drop their sockets now: they must find their way back alone
    clients[0].close();
    clients[1].close();
    await drive(clients, { timeout: 1000 });
    assert.ok(Object.keys(totals(clients, 'openFailures')).length > 0 || clients.slice(0, 2).some((c) => !c.connected),
              'reopening fails while the database is away');
  } finally {
    closeAll(opened);
    if (stopped && !fs.existsSync(path.join(env.STACK_DIR, 'pg', 'data', 'postmaster.pid'))) stack('pg-start');
  }
  // the programs reconnect by themselves: nobody restarts them
  for (const port of relayPorts()) {
    assert.equal(await waitStatus(`http://127.0.0.1:${port}/healthz`, 200, 30000), 200, `relay :${port} back`);
  }
  assert.equal(await waitStatus(`${env.BASE_URL}/healthz`, 200, 30000), 200, 'login-fcgi back');
  // every login-fcgi worker had its connection cut: logins in parallel (so
  // several workers answer) all succeed, none is a 500 or 503
  const logins = await Promise.all(Array.from({ length: 16 }, async (_, i) => {
    const iss = await wxCode(`pgkill-${process.pid}-${i}`);
    return http('GET', '/login', { headers: { 'X-WX-Code': iss.code } });
  }));
  assert.deepEqual(logins.map((r) => r.status), Array(16).fill(200),
                   `logins after the restart: ${logins.filter((r) => r.status !== 200).map((r) => r.text).slice(0, 2)}`);
  // chat on after the outage, then let every refused message be resent (same cid)
  const ackedMid = clients.reduce((n, c) => n + c.acks.size, 0);
  assert.ok(await drive(clients, { timeout: 20000, until: () => clients.reduce((n, c) => n + c.acks.size, 0) >= ackedMid + 2 * CLIENTS }),
            'messages are acknowledged again after the restart');
  assert.ok(await settle(clients, () => ({ [room]: roomRow(room).lastSeq })),
            `clients settle: ${JSON.stringify(clients.map((c) => ({ c: c.connected, p: c.pending.size, last: c.lastId })))}`);

  const refusals = totals(clients, 'refusals');
  t.diagnostic(`acks ${ackedBefore} before, ${clients.reduce((n, c) => n + c.acks.size, 0)} in all; refusals ${JSON.stringify(refusals)}; ` +
               `closes ${JSON.stringify(totals(clients, 'closes'))}; failed opens ${JSON.stringify(totals(clients, 'openFailures'))}`);
  assert.deepEqual(Object.keys(refusals), ['ERR_UNAVAILABLE'], 'the only refusal is ERR_UNAVAILABLE');
  const rows = roomMessages(room);
  assert.deepEqual(checkViews(clients, { [room]: rows }), []);
  // every message a client ever sent ended up stored exactly once
  const sent = clients.reduce((n, c) => n + c.sentCount, 0);
  assert.equal(rows.length, sent, 'one row per message sent (refused ones resent with their cid)');
  assert.ok(clients.slice(0, 2).every((c) => c.connNo >= 2), 'the dropped clients reconnected');
});
