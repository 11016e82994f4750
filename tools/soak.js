#!/usr/bin/env node
// soak.js -- `make soak`: thousands of WebSocket clients chatting for minutes
// on a fresh stack while they randomly drop and reconnect and PostgreSQL is
// killed and restarted once; afterwards every client's view, rebuilt with
// `since`, must equal the messages table of its room (no loss, no duplicate,
// same order), every acknowledged message must be stored, and the relays'
// memory and file descriptors must be back near their baseline.
//
//   1. tools/stack.sh start: release build, RELAYS=2, PostgreSQL with fsync on
//      (a private directory under /tmp; stopped at the end, KEEP_STACK=1 keeps it).
//   2. SOAK_CLIENTS users and sessions made in SQL, spread over SOAK_ROOMS rooms.
//   3. Warm-up: every client joins (since=0) through nginx, chats briefly,
//      everyone leaves; the relays' VmRSS and open fds are the baseline.
//   4. The run (SOAK_SECONDS): every client sends a text with a cid at random
//      intervals (mean SOAK_INTERVAL_MS), each connected client drops its
//      socket with probability SOAK_DROP_RATE per second and reconnects with
//      since=<last id it saw>; at half time PostgreSQL is stopped with
//      `pg_ctl -m immediate` for SOAK_PG_DOWN_SECONDS and started again.
//      Refused messages (ERR_UNAVAILABLE) and messages whose socket died
//      unanswered are resent with the same cid (tests/lib/steady-client.js).
//   5. Settle (bounded): nothing pending, every client at its room's last id.
//      Then every client reconnects once more with since=<last id>: it must be
//      told recovered:true with nothing missing.
//   6. Checks: views == table, acks stored, one row per message sent, no
//      unexpected error; after everyone left, relay fds <= baseline +
//      SOAK_FD_SLACK and VmRSS <= baseline + SOAK_RSS_SLACK_MB.
//
// Environment (defaults): SOAK_CLIENTS (2000), SOAK_SECONDS (120), SOAK_ROOMS
// (clients/100, at least 1), SOAK_INTERVAL_MS (10000), SOAK_DROP_RATE (0.003),
// SOAK_PG_DOWN_SECONDS (5), SOAK_SETTLE_SECONDS (180), SOAK_FD_SLACK (8),
// SOAK_RSS_SLACK_MB (16), BIN_DIR (build/release), KEEP_STACK (0).
// Exit status 0 when every check holds, 1 otherwise. Needs `ulimit -n` above
// about 2 x SOAK_CLIENTS + 100 (make soak raises it).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const num = (name, def) => (process.env[name] !== undefined && process.env[name] !== '' ? Number(process.env[name]) : def);
const CLIENTS = num('SOAK_CLIENTS', 2000);
const SECONDS = num('SOAK_SECONDS', 120);
const ROOMS = num('SOAK_ROOMS', Math.max(1, Math.round(CLIENTS / 100)));
const INTERVAL = num('SOAK_INTERVAL_MS', 10000);
const DROP_RATE = num('SOAK_DROP_RATE', 0.003);
const PG_DOWN = num('SOAK_PG_DOWN_SECONDS', 5);
const SETTLE = num('SOAK_SETTLE_SECONDS', 180);
const FD_SLACK = num('SOAK_FD_SLACK', 8);
const RSS_SLACK_MB = num('SOAK_RSS_SLACK_MB', 16);

const log = (...a) => console.log(`soak: [${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function stackCmd(dir, ...args) {
  return execFileSync(path.join(ROOT, 'tools', 'stack.sh'), [args[0], dir, ...args.slice(1)],
                      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// VmRSS (KiB) and open fds of each relay process of the stack.
function relayResources(dir, relays) {
  return relays.map((name) => {
    const pid = fs.readFileSync(path.join(dir, 'pid', `${name}.pid`), 'utf8').trim();
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number((status.match(/^VmRSS:\s+(\d+)/m) || [])[1]);
    const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    return { name, pid: Number(pid), rssKb: rss, fds };
  });
}
const fmtRes = (rs) => rs.map((r) => `${r.name} pid ${r.pid}: VmRSS ${(r.rssKb / 1024).toFixed(1)} MiB, ${r.fds} fds`).join('; ');

// The relays' relay_connections gauges (sum), or -1 when a relay does not answer.
async function relayConnections(env) {
  let sum = 0;
  for (const port of env.RELAY_METRICS_PORTS.split(' ').filter(Boolean)) {
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
      const m = text.match(/^relay_connections\s+(\S+)/m);
      sum += m ? Number(m[1]) : 0;
    } catch { return -1; }
  }
  return sum;
}

// Users and sessions for n clients in one statement; returns [{uid, id, skey}].
function makeSessions(sql, n, tag) {
  const data = Array.from({ length: n }, (_, i) => ({
    openid: `soak-${tag}-${i}`, nick: `soak ${i}`, sid: crypto.randomBytes(16).toString('hex'),
    skey: crypto.randomBytes(32).toString('hex'),
  }));
  const rows = sql(`WITH d AS (SELECT * FROM json_to_recordset($soak$${JSON.stringify(data)}$soak$::json)
                                 AS x(openid text, nick text, sid text, skey text)),
                    u AS (INSERT INTO users (openid, nickname, avatar_url)
                          SELECT openid, nick, '/files/soak.png' FROM d RETURNING id, openid)
                    INSERT INTO sessions (id, skey_hash, user_id, wx_session_key, expires_at)
                    SELECT d.sid, sha256(convert_to(d.skey, 'UTF8')), u.id, 'soak', now() + interval '1 day'
                    FROM d JOIN u USING (openid) RETURNING id, user_id`);
  const uidOf = new Map(rows.map(([id, uid]) => [id, Number(uid)]));
  return data.map((d) => ({ uid: uidOf.get(d.sid), id: d.sid, skey: d.skey }));
}

// Connect the clients in batches (bounded concurrency); returns how many failed.
async function connectAll(clients, batch = 100) {
  let failed = 0;
  for (let i = 0; i < clients.length; i += batch) {
    const r = await Promise.allSettled(clients.slice(i, i + batch).map((c) => c.connect()));
    failed += r.filter((x) => x.status === 'rejected').length;
  }
  return failed;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-soak-'));
  fs.chmodSync(dir, 0o755);
  const failures = [];
  const check = (ok, what) => { log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) failures.push(what); };
  log(`clients ${CLIENTS}, rooms ${ROOMS}, ${SECONDS} s, one message per ${INTERVAL} ms per client, ` +
      `drop rate ${DROP_RATE}/s, PostgreSQL down ${PG_DOWN} s at half time; stack in ${dir}`);
  let started = false;
  try {
    const startEnv = Object.assign({}, process.env, { BIN_DIR: process.env.BIN_DIR || 'build/release', RELAYS: '2' });
    execFileSync(path.join(ROOT, 'tools', 'stack.sh'), ['start', dir], { env: startEnv, stdio: ['ignore', 'ignore', 'inherit'] });
    started = true;
    process.env.STACK_DIR = dir;
    const { env, sql } = require('../tests/lib/harness');
    const { SteadyClient, drive, settle, checkViews, totals, stackAsync } = require('../tests/lib/steady-client');
    const relays = env.RELAY_PORTS.split(' ').filter(Boolean).map((_, i) => `relay${i + 1}`);
    const cold = relayResources(dir, relays);
    log(`stack up at ${env.BASE_URL}; relays cold: ${fmtRes(cold)}`);

    const tag = crypto.randomBytes(3).toString('hex');
    const sessions = makeSessions(sql, CLIENTS, tag);
    const roomName = (k) => `soak_${tag}_${k}`;
    const base = `${env.BASE_URL.replace(/^http/, 'ws')}/chat`;
    const makeClients = (label) => sessions.map((s, i) => new SteadyClient({
      base, session: s, room: roomName(i % ROOMS), label: `${label}${i}`, handshakeTimeout: 10000, backoffMax: 5000,
    }));

    // --- warm-up: join, chat a little, leave; the baseline ---------------------------------
    const warm = makeClients('w');
    const warmFailed = await connectAll(warm);
    await drive(warm, { interval: 2000, timeout: 4000 });
    await settle(warm, () => ({}), { timeout: 30000 });
    warm.forEach((c) => c.close());
    await waitConnections(env, 0, 30000, log);
    await sleep(2000);
    const baseline = relayResources(dir, relays);
    log(`warm-up: ${warm.length - warmFailed} joined, ${warm.reduce((n, c) => n + c.acks.size, 0)} acknowledged; ` +
        `baseline after everyone left: ${fmtRes(baseline)}`);

    // --- the run -----------------------------------------------------------------------------
    // Fresh rooms, so each client's view from since=0 is its whole room.
    const runTag = crypto.randomBytes(3).toString('hex');
    const clients = sessions.map((s, i) => new SteadyClient({
      base, session: s, room: `soak_${runTag}_${i % ROOMS}`, label: `c${i}`, handshakeTimeout: 10000, backoffMax: 5000,
    }));
    const t0 = Date.now();
    const joinFailed = await connectAll(clients);
    log(`${clients.length - joinFailed} of ${clients.length} clients joined in ${((Date.now() - t0) / 1000).toFixed(1)} s ` +
        `${joinFailed ? '(the others retry by themselves)' : ''}`);
    const peak = relayResources(dir, relays).map((r) => Object.assign({}, r));
    let drops = 0;
    let pgEvents = [];
    const runStart = Date.now();
    const dropper = setInterval(() => {
      for (const c of clients) if (c.connected && Math.random() < DROP_RATE) { c.close(); drops += 1; }
      const now = relayResources(dir, relays);
      now.forEach((r, i) => { peak[i].rssKb = Math.max(peak[i].rssKb, r.rssKb); peak[i].fds = Math.max(peak[i].fds, r.fds); });
    }, 1000);
    const progress = setInterval(() => {
      const acked = clients.reduce((n, c) => n + c.acks.size, 0);
      log(`t=${Math.round((Date.now() - runStart) / 1000)} s: ${clients.filter((c) => c.connected).length} connected, ` +
          `${acked} acknowledged, ${clients.reduce((n, c) => n + c.pending.size, 0)} pending, ${drops} drops, ` +
          `refusals ${JSON.stringify(totals(clients, 'refusals'))}`);
    }, 15000);
    const outage = (async () => {
      await sleep(SECONDS * 500);
      pgEvents.push(`stop at t=${Math.round((Date.now() - runStart) / 1000)} s`);
      log('PostgreSQL: pg_ctl stop -m immediate');
      await stackAsync(dir, 'pg-stop', 'immediate');
      log('PostgreSQL: stopped');
      await sleep(PG_DOWN * 1000);
      await stackAsync(dir, 'pg-start');
      pgEvents.push(`started at t=${Math.round((Date.now() - runStart) / 1000)} s`);
      log('PostgreSQL: started again');
    })();
    await drive(clients, { interval: INTERVAL, timeout: SECONDS * 1000 });
    clearInterval(dropper);
    await outage;
    const sent = () => clients.reduce((n, c) => n + c.sentCount, 0);
    log(`run over: ${sent()} messages sent, ${drops} random drops; settling (nothing new is sent)`);

    // --- settle, then rebuild every view once more with since ---------------------------------
    const rooms = [...new Set(clients.map((c) => c.room))];
    const lastSeqs = () => Object.fromEntries(sql(`SELECT name, last_seq FROM rooms WHERE name = ANY(string_to_array(:'r', ','))`,
                                                  { r: rooms.join(',') }).map(([n, s]) => [n, Number(s)]));
    const settled = await settle(clients, lastSeqs, { interval: 1000, timeout: SETTLE * 1000 });
    clearInterval(progress);
    check(settled, `every client settled within ${SETTLE} s (connected, nothing pending, at its room's last id): ` +
          `${clients.filter((c) => !c.connected).length} not connected, ${clients.reduce((n, c) => n + c.pending.size, 0)} pending`);
    clients.forEach((c) => c.close());
    await waitConnections(env, 0, 30000, log);
    const beforeRejoin = clients.map((c) => c.lastId);
    const rejoinFailed = await connectAll(clients);
    await sleep(2000);
    check(rejoinFailed === 0, `every client reopened with since=<last id> (${rejoinFailed} failed)`);
    const moved = clients.filter((c, i) => c.lastId !== beforeRejoin[i]).length;
    check(moved === 0, `rejoining with since brought nothing new: the views were complete (${moved} clients got more)`);

    // --- checks ---------------------------------------------------------------------------------
    const rowsByRoom = {};
    for (const [room, seq, uid, content, cid] of sql(
      `SELECT r.name, m.seq, m.user_id, m.content, m.cid FROM messages m JOIN rooms r ON r.id = m.room_id
       WHERE r.name = ANY(string_to_array(:'r', ',')) ORDER BY r.name, m.seq`, { r: rooms.join(',') })) {
      (rowsByRoom[room] = rowsByRoom[room] || []).push({ seq: Number(seq), uid: uid === null ? null : Number(uid), content, cid });
    }
    const stored = Object.values(rowsByRoom).reduce((n, r) => n + r.length, 0);
    const problems = checkViews(clients, rowsByRoom);
    check(problems.length === 0, `every client's view equals the table of its room, every ack is stored (${problems.length} problems)`);
    for (const p of problems.slice(0, 20)) log(`  ${p}`);
    check(stored === sent(), `one row per message sent: ${stored} stored, ${sent()} sent`);
    const refusals = totals(clients, 'refusals');
    check(Object.keys(refusals).every((k) => k === 'ERR_UNAVAILABLE'), `only ERR_UNAVAILABLE refusals: ${JSON.stringify(refusals)}`);
    check((refusals.ERR_UNAVAILABLE || 0) > 0 || PG_DOWN === 0, 'the database outage was noticed by senders (ERR_UNAVAILABLE)');
    const views = clients.reduce((n, c) => n + c.view.length, 0);
    log(`messages stored ${stored} in ${rooms.length} rooms; frames delivered in views ${views}; ` +
        `connection attempts beyond the two planned per client ${clients.reduce((n, c) => n + c.connNo, 0) - clients.length * 2}; closes ${JSON.stringify(totals(clients, 'closes'))}; ` +
        `failed opens ${JSON.stringify(totals(clients, 'openFailures'))}; PostgreSQL ${pgEvents.join(', ')}`);

    // --- resources after everyone left ---------------------------------------------------------
    clients.forEach((c) => c.close());
    const gone = await waitConnections(env, 0, 30000, log);
    check(gone, 'the relays count 0 connections after everyone left');
    await sleep(3000);
    const final = relayResources(dir, relays);
    log(`relays cold:     ${fmtRes(cold)}`);
    log(`relays baseline: ${fmtRes(baseline)}`);
    log(`relays peak:     ${fmtRes(peak)}`);
    log(`relays final:    ${fmtRes(final)}`);
    final.forEach((r, i) => {
      check(r.fds <= baseline[i].fds + FD_SLACK, `${r.name}: ${r.fds} fds, baseline ${baseline[i].fds} (+${FD_SLACK} allowed)`);
      check(r.rssKb <= baseline[i].rssKb + RSS_SLACK_MB * 1024,
            `${r.name}: VmRSS ${(r.rssKb / 1024).toFixed(1)} MiB, baseline ${(baseline[i].rssKb / 1024).toFixed(1)} MiB (+${RSS_SLACK_MB} MiB allowed)`);
    });
    const sanitizer = fs.readdirSync(dir).filter((f) => f.startsWith('sanitizer'));
    check(sanitizer.length === 0, `no sanitizer reports (${sanitizer.length})`);
    for (const name of relays) {
      const errors = fs.readFileSync(path.join(dir, 'log', `${name}.log`), 'utf8').split('\n').filter((l) => / (error|fatal) /.test(l));
      log(`${name}: ${errors.length} error lines in its log${errors.length ? `, e.g. ${errors[0].slice(0, 160)}` : ''}`);
    }
  } catch (e) {
    failures.push(`soak aborted: ${e.stack || e}`);
    log(`aborted: ${e.stack || e}`);
  } finally {
    if (started) {
      try { stackCmd(dir, 'stop'); } catch (e) { log(`stack stop: ${e.message}`); }
    }
    if (process.env.KEEP_STACK === '1') log(`stack kept in ${dir} (logs in ${dir}/log)`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
  log(failures.length ? `FAILED: ${failures.length} check(s)` : 'passed: every check holds');
  process.exit(failures.length ? 1 : 0);
}

// Wait (bounded) until the relays report `want` connections in all.
async function waitConnections(env, want, timeout, say) {
  const deadline = Date.now() + timeout;
  let n;
  while ((n = await relayConnections(env)) !== want) {
    if (Date.now() > deadline) { say(`relays still count ${n} connections`); return false; }
    await sleep(500);
  }
  return true;
}

main();
