// steady-client.js -- a chat client that keeps chatting through faults, for
// the fault tests (tests/integration/faults_*.test.js) and the soak
// (tools/soak.js). It behaves like a careful mini-program:
//
//   - it always opens with `since=<last id it saw>` (0 at first, so its view
//     of a new room is the whole room) and the room's `epoch`;
//   - every message carries a cid; a message is acknowledged by its own
//     type:"user" echo; one that was refused (ERR_UNAVAILABLE...) or whose
//     connection died before an answer is resent later with the SAME cid;
//   - it reconnects by itself (the driver calls tick()) after any close.
//
// Each client records its view (chat frames in id order), its acks, its
// refusals and closes, and every problem a user would notice: a duplicate
// id, a gap, recovered:false, an unexpected error, a cid acknowledged with
// two ids. A resent cid is answered with the stored message again (relay
// contract), possibly out of order: such echoes of resent cids are acks, not
// view frames. checkViews() compares the views with the messages table.
'use strict';

const path = require('path');
const { execFile } = require('child_process');
const WebSocket = require('ws');

const MAGIC = 'F2C224D4-2BCE-4C64-AF9F-A6D872000D1A';

class SteadyClient {
  // opts: base (ws://host:port/chat), session {uid, id, skey}, room, label,
  // handshakeTimeout (ms, default 5000), backoff (ms, default 200..2000).
  constructor({ base, session, room, label, handshakeTimeout = 5000, backoffMin = 200, backoffMax = 2000 }) {
    Object.assign(this, { base, session, room, label, handshakeTimeout, backoffMin, backoffMax });
    this.view = [];             // [{id, uid, cid, content}] in id order
    this.lastId = 0;
    this.epoch = undefined;
    this.acks = new Map();      // cid -> id
    this.pending = new Map();   // cid -> {content, conn, refused, sends}
    this.resent = new Set();    // cids sent more than once
    this.refusals = {};         // error code -> count
    this.closes = {};           // close code -> count
    this.openFailures = {};     // 'http 502', 'close 1011', 'timeout', ... -> count
    this.problems = [];
    this.connNo = 0;
    this.ws = null;
    this.connected = false;
    this.connecting = null;
    this.nextAttempt = 0;
    this.backoff = backoffMin;
    this.sentCount = 0;
    this.framesIn = 0;
  }

  problem(text) {
    if (this.problems.length < 50) this.problems.push(`${this.label}: ${text}`);
  }

  url() {
    const q = new URLSearchParams({ 'X-WX-Id': this.session.id, 'X-WX-Skey': this.session.skey,
                                    room: this.room, since: String(this.lastId) });
    if (this.epoch) q.set('epoch', this.epoch);
    return `${this.base}?${q}`;
  }

  // Open a connection; resolves once the system frame arrived, rejects when
  // the open fails (refused upgrade, close before the system frame, timeout).
  connect() {
    if (this.connecting) return this.connecting;
    const no = ++this.connNo;
    const ws = new WebSocket(this.url(), { handshakeTimeout: this.handshakeTimeout });
    this.ws = ws;
    this.connecting = new Promise((resolve, reject) => {
      let settled = false;
      let opened = false;
      const fail = (why) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.openFailures[why] = (this.openFailures[why] || 0) + 1;
        ws.terminate();
        reject(new Error(`${this.label}: open failed: ${why}`));
      };
      const timer = setTimeout(() => fail('timeout'), this.handshakeTimeout * 2);
      ws.on('unexpected-response', (req, res) => { req.destroy(); fail(`http ${res.statusCode}`); });
      ws.on('error', (e) => { if (!settled) fail(`error ${e.code || e.message}`); });
      ws.on('message', (data, isBinary) => {
        this.framesIn++;
        let f;
        try { f = JSON.parse(data.toString('utf8')); } catch { f = null; }
        if (isBinary || !f || typeof f !== 'object') { this.problem(`unparsable frame ${String(data).slice(0, 80)}`); return; }
        if (!settled) {
          if (f.type === 'system' && f.seq !== undefined) {
            settled = true;
            opened = true;
            clearTimeout(timer);
            this.epoch = f.epoch;
            if (f.recovered !== true) this.problem(`recovered:${f.recovered} with since=${this.lastId}`);
            this.connected = true;
            this.backoff = this.backoffMin;
            resolve(f);
            return;
          }
          if (f.error) { this.openFailures[`error ${f.error}`] = (this.openFailures[`error ${f.error}`] || 0) + 1; return; }
        }
        this.onFrame(f);
      });
      ws.on('close', (code) => {
        if (this.ws === ws) { this.connected = false; this.ws = null; }
        if (opened) this.closes[code] = (this.closes[code] || 0) + 1;
        else fail(`close ${code}`);
      });
    });
    const done = () => { this.connecting = null; };
    this.connecting.then(done, () => {
      done();
      this.nextAttempt = Date.now() + this.backoff;
      this.backoff = Math.min(this.backoff * 2, this.backoffMax);
    });
    this.connecting.no = no;
    return this.connecting;
  }

  onFrame(f) {
    if (f.type === 'error') {
      const p = f.cid !== undefined && this.pending.get(f.cid);
      this.refusals[f.error] = (this.refusals[f.error] || 0) + 1;
      if (p) p.refused = f.error;
      else this.problem(`error without a pending cid: ${JSON.stringify(f).slice(0, 160)}`);
      return;
    }
    if (f[MAGIC] !== undefined || f.error) { this.problem(`session error ${JSON.stringify(f).slice(0, 160)}`); return; }
    if (f.type === 'system') return;   // join/leave events
    if (f.type !== 'user' && f.type !== 'remote') { this.problem(`unknown frame ${JSON.stringify(f).slice(0, 160)}`); return; }
    const own = f.type === 'user';
    if (own !== (f.uid === this.session.uid)) this.problem(`type ${f.type} for uid ${f.uid} (mine ${this.session.uid})`);
    if (own && f.cid !== undefined) {
      const had = this.acks.get(f.cid);
      if (had !== undefined && had !== f.id) this.problem(`cid ${f.cid} acknowledged as ${had} and ${f.id}`);
      this.acks.set(f.cid, f.id);
      this.pending.delete(f.cid);
    }
    const echo = own && this.resent.has(f.cid);
    if (f.id === this.lastId + 1) {
      this.view.push({ id: f.id, uid: f.uid, cid: f.cid, content: f.text ? f.content : f.url });
      this.lastId = f.id;
    } else if (f.id <= this.lastId) {
      const seen = this.view[this.view.length - 1 - (this.lastId - f.id)];
      if (!(echo && seen && seen.id === f.id && seen.cid === f.cid)) this.problem(`duplicate id ${f.id} (last ${this.lastId})`);
    } else if (!echo) {
      this.problem(`gap: id ${f.id} after ${this.lastId}`);
    }
  }

  // Send a new message; returns its cid.
  sendNew() {
    this.sentCount += 1;
    const cid = `${this.label}-${this.sentCount}`;
    const content = `${this.label} #${this.sentCount}`;
    this.pending.set(cid, { content, conn: this.connNo, refused: null, sends: 1 });
    this.ws.send(JSON.stringify({ text: true, content, cid }));
    return cid;
  }

  // The oldest message that needs resending (refused, or its connection died).
  retryable() {
    for (const [cid, p] of this.pending) if (p.refused || p.conn !== this.connNo) return cid;
    return undefined;
  }

  resend(cid) {
    const p = this.pending.get(cid);
    p.refused = null;
    p.conn = this.connNo;
    p.sends += 1;
    this.resent.add(cid);
    this.ws.send(JSON.stringify({ text: true, content: p.content, cid }));
  }

  // One step of the client's life: reconnect when due, else resend one
  // message that needs it, else (when `chat`) send a new one.
  tick({ chat = true } = {}) {
    if (!this.connected) {
      if (!this.connecting && Date.now() >= this.nextAttempt) this.connect().catch(() => {});
      return;
    }
    if (this.ws.bufferedAmount > 0) return;
    const cid = this.retryable();
    if (cid !== undefined) this.resend(cid);
    else if (chat) this.sendNew();
  }

  close() {
    if (this.ws) this.ws.terminate();
    this.connected = false;
  }
}

// Drive clients until `until()` is true or the deadline passes: each client
// ticks every `interval` ms (randomised +-50 %). Returns true when until() held.
async function drive(clients, { interval = 150, timeout = 30000, chat = () => true, until = () => false } = {}) {
  const deadline = Date.now() + timeout;
  const due = new Map(clients.map((c) => [c, Date.now() + Math.random() * interval]));
  while (Date.now() < deadline) {
    if (until()) return true;
    const now = Date.now();
    for (const c of clients) {
      if (now < due.get(c)) continue;
      c.tick({ chat: chat(c) });
      due.set(c, now + interval * (0.5 + Math.random()));
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return until();
}

// Resend until nothing is pending and every client is connected and has seen
// its room up to the table's last id; lastSeqs() returns {room: last_seq}
// (asked at most every 500 ms). Bounded; returns true when that happened.
function settle(clients, lastSeqs, { interval = 150, timeout = 30000 } = {}) {
  let target = null;
  let asked = 0;
  return drive(clients, {
    interval, timeout, chat: () => false,
    until: () => {
      if (!clients.every((c) => c.connected && c.pending.size === 0)) return false;
      // nothing pending: everything acknowledged is committed, the table is final
      if (!target || Date.now() - asked > 500) { target = lastSeqs(); asked = Date.now(); }
      return clients.every((c) => c.lastId >= (target[c.room] || 0));
    },
  });
}

// Compare every client's view and acks with `rows` ({room: [{seq, uid, cid, content}]}).
// Returns a list of problems (empty when everything holds).
function checkViews(clients, rowsByRoom) {
  const problems = [];
  for (const c of clients) {
    problems.push(...c.problems);
    const rows = rowsByRoom[c.room] || [];
    const ids = c.view.map((v) => v.id);
    const seqs = rows.map((r) => r.seq);
    if (ids.length !== seqs.length || ids.some((id, i) => id !== seqs[i])) {
      problems.push(`${c.label}: view has ${ids.length} ids (${ids.slice(0, 3)}..${ids.slice(-3)}), ` +
                    `the table ${seqs.length} (${seqs.slice(0, 3)}..${seqs.slice(-3)})`);
      continue;
    }
    for (let i = 0; i < rows.length; i++) {
      const v = c.view[i], r = rows[i];
      if (v.uid !== r.uid || (v.cid || null) !== r.cid || v.content !== r.content) {
        problems.push(`${c.label}: id ${v.id} seen as ${JSON.stringify(v)}, stored as ${JSON.stringify(r)}`);
        break;
      }
    }
    const bySeq = new Map(rows.map((r) => [r.seq, r]));
    for (const [cid, id] of c.acks) {
      const r = bySeq.get(id);
      if (!r || r.cid !== cid || r.uid !== c.session.uid) problems.push(`${c.label}: acknowledged ${cid} as id ${id}, table has ${JSON.stringify(r)}`);
    }
  }
  for (const [room, rows] of Object.entries(rowsByRoom)) {
    const cids = new Set();
    for (const r of rows) {
      if (r.cid === null) continue;
      const k = `${r.uid}/${r.cid}`;
      if (cids.has(k)) problems.push(`${room}: cid ${r.cid} of uid ${r.uid} stored twice`);
      cids.add(k);
    }
    for (let i = 0; i < rows.length; i++) {
      if (rows[i].seq !== i + 1) { problems.push(`${room}: table seqs not 1..n at index ${i}: ${rows[i].seq}`); break; }
    }
  }
  return problems;
}

// Sum a per-client counter object (refusals, closes, openFailures).
function totals(clients, key) {
  const t = {};
  for (const c of clients) for (const [k, v] of Object.entries(c[key])) t[k] = (t[k] || 0) + v;
  return t;
}

// tools/stack.sh COMMAND DIR ARGS... without blocking the event loop (the
// clients keep chatting while a service stops or starts).
function stackAsync(stackDir, command, ...args) {
  return new Promise((resolve, reject) => {
    execFile(path.join(__dirname, '..', '..', 'tools', 'stack.sh'), [command, stackDir, ...args],
             { timeout: 90000 }, (err, stdout, stderr) => (err ? reject(new Error(`stack.sh ${command}: ${err.message}\n${stderr}`))
                                                                : resolve({ stdout, stderr })));
  });
}

// Poll GET url until it answers `want` (bounded); returns the last status (0: no answer).
async function waitStatus(url, want, timeout = 30000) {
  const deadline = Date.now() + timeout;
  let got = 0;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      got = res.status;
    } catch { got = 0; }
    if (got === want || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 200));
  }
}

module.exports = { SteadyClient, drive, settle, checkViews, totals, stackAsync, waitStatus };
