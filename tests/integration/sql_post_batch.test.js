// sql_post_batch.test.js -- chat_post_batch, the relay's only write, called
// as chat_relay on a scratch database: numbering (one room, several rooms,
// gap-free), bad sessions, cids (resent, repeated in a batch), a missing
// room, and that the fast path (no cid, every session live; migration 024)
// answers exactly what the checked path (015's function) answers. Then
// chat_post_batch_compact (027), which the relay calls: its short answer
// (a row per room and per sender) numbers the messages as chat_post_batch
// does, and its other answers are chat_post_batch's.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { urlFor, psqlRun, psql, createMigratedDb, dropDb } = require('../lib/scratch-db');

const DB = `chat_sqlpb_${process.pid}`;

const owner = (script, vars) => psql(urlFor(DB), script, vars);
const relay = (script, vars) => psqlRun(urlFor(DB, 'chat_relay'), script, vars);

// Users 1 and 2, rooms by name, and sessions by skey (the function takes
// sha256 of the skey): live, revoked, expired.
const SETUP = `
INSERT INTO users (openid, nickname, avatar_url) VALUES ('pb-1', 'Ann', 'https://a/1'), ('pb-2', 'Bob', 'https://a/2');
INSERT INTO rooms (name) VALUES ('ra'), ('rb'), ('rc'), ('rd');
INSERT INTO sessions (id, skey_hash, user_id, wx_session_key, expires_at, revoked_at)
SELECT s.id, sha256(convert_to(s.id, 'UTF8')), u.id, 'k', now() + s.ttl, s.revoked
FROM (VALUES ('live-1', 'pb-1', interval '1 hour', NULL::timestamptz),
             ('live-2', 'pb-2', interval '1 hour', NULL),
             ('revoked-1', 'pb-1', interval '1 hour', now()),
             ('expired-2', 'pb-2', interval '-1 second', NULL)) AS s(id, openid, ttl, revoked)
JOIN users u ON u.openid = s.openid;`;

const COLUMNS = ['idx', 'duplicate', 'invalid', 'room', 'seq', 'user_id', 'nickname', 'avatar_url',
  'kind', 'content', 'cid'];

// Ids by name, looked up as the owner (chat_relay may not read users);
// names that do not exist get -1.
const ids = new Map();
const idOf = (table, key, name) => {
  const k = `${table}:${name}`;
  if (!ids.has(k)) {
    const rows = owner(`SELECT id FROM ${table} WHERE ${key} = :'n'`, { n: name });
    ids.set(k, rows.length ? rows[0][0] : '-1');
  }
  return ids.get(k);
};

// One batch: msgs are {room, user (openid), skey, text, cid}; returns the
// answer rows as objects (time_ms checked, then left out), or {error}.
function post(msgs, fn = 'chat_post_batch', as = relay, columns = COLUMNS) {
  const list = (f) => msgs.map(f).join('\x1f');
  const vars = {
    rooms: list((m) => idOf('rooms', 'name', m.room)), users: list((m) => idOf('users', 'openid', m.user)),
    skeys: list((m) => m.skey), texts: list((m) => m.text), cids: list((m) => m.cid || ''),
  };
  const split = (v) => `string_to_array(:'${v}', E'\\x1f')`;
  const r = as(`
SELECT ${columns.map((c) => `b.${c}`).join(', ')},
       abs(b.time_ms - (extract(epoch FROM now()) * 1000)::bigint) < 60000
FROM ${fn}(${split('rooms')}::bigint[], ${split('users')}::bigint[],
  array_fill('text'::text, ARRAY[${msgs.length}]), ${split('texts')},
  ARRAY(SELECT nullif(x, '') FROM unnest(${split('cids')}) WITH ORDINALITY t(x, i) ORDER BY i),
  ARRAY(SELECT sha256(convert_to(x, 'UTF8')) FROM unnest(${split('skeys')}) WITH ORDINALITY t(x, i) ORDER BY i)) b;`,
  vars);
  if (r.status !== 0) return { error: r.stderr };
  return r.rows.map((row) => {
    assert.equal(row[columns.length], row[2] === 't' ? null : 't', `time_ms of ${row}`);
    return Object.fromEntries(columns.map((c, i) => [c, row[i]]));
  });
}

const uid = (openid) => idOf('users', 'openid', openid);
const stored = (room) => owner(`SELECT m.seq, u.openid, m.content, m.cid FROM messages m
  LEFT JOIN users u ON u.id = m.user_id JOIN rooms r ON r.id = m.room_id
  WHERE r.name = :'r' ORDER BY m.seq`, { r: room });
const lastSeq = (room) => Number(owner(`SELECT last_seq FROM rooms WHERE name = :'r'`, { r: room })[0][0]);

const ann = (room, text, extra = {}) => Object.assign({ room, user: 'pb-1', skey: 'live-1', text }, extra);
const bob = (room, text, extra = {}) => Object.assign({ room, user: 'pb-2', skey: 'live-2', text }, extra);

// A fresh message's answer row.
const fresh = (idx, seq, who) => ({
  idx: String(idx), duplicate: 'f', invalid: 'f', room: null, seq: String(seq),
  user_id: uid(who), nickname: who === 'pb-1' ? 'Ann' : 'Bob',
  avatar_url: who === 'pb-1' ? 'https://a/1' : 'https://a/2', kind: 'text', content: null, cid: null,
});

describe('chat_post_batch (scratch database)', () => {
  before(() => {
    createMigratedDb(DB);
    owner(SETUP);
  });
  after(() => dropDb(DB));

  test('one room: numbered from last_seq in batch order, stored, answered with names', () => {
    const before = lastSeq('ra');
    const got = post([ann('ra', 'one'), bob('ra', 'two'), ann('ra', 'three')]);
    assert.deepEqual(got, [fresh(1, before + 1, 'pb-1'), fresh(2, before + 2, 'pb-2'), fresh(3, before + 3, 'pb-1')]);
    assert.equal(lastSeq('ra'), before + 3);
    assert.deepEqual(stored('ra').slice(-3), [[String(before + 1), 'pb-1', 'one', null],
      [String(before + 2), 'pb-2', 'two', null], [String(before + 3), 'pb-1', 'three', null]]);
  });

  test('several rooms in one batch: each room dense and in batch order', () => {
    const a0 = lastSeq('ra'), b0 = lastSeq('rb');
    const got = post([ann('rb', 'b1'), bob('ra', 'a1'), ann('ra', 'a2'), bob('rb', 'b2'), ann('rb', 'b3')]);
    assert.deepEqual(got.map((r) => [r.idx, r.seq, r.invalid, r.duplicate]), [
      ['1', String(b0 + 1), 'f', 'f'], ['2', String(a0 + 1), 'f', 'f'], ['3', String(a0 + 2), 'f', 'f'],
      ['4', String(b0 + 2), 'f', 'f'], ['5', String(b0 + 3), 'f', 'f']]);
    assert.deepEqual(stored('rb').slice(-3).map((r) => r[2]), ['b1', 'b2', 'b3']);
    assert.deepEqual(stored('ra').slice(-2).map((r) => r[2]), ['a1', 'a2']);
    assert.equal(lastSeq('ra'), a0 + 2);
    assert.equal(lastSeq('rb'), b0 + 3);
  });

  test('revoked, expired and wrong skeys: those messages invalid and not stored, the rest gap-free', () => {
    const r0 = lastSeq('rc');
    const got = post([ann('rc', 'ok1'), ann('rc', 'revoked', { skey: 'revoked-1' }),
      bob('rc', 'expired', { skey: 'expired-2' }), bob('rc', 'ok2'),
      bob('rc', 'not hers', { skey: 'live-1' })]);
    assert.deepEqual(got.map((r) => [r.idx, r.invalid, r.seq, r.user_id]), [
      ['1', 'f', String(r0 + 1), uid('pb-1')], ['2', 't', null, null], ['3', 't', null, null],
      ['4', 'f', String(r0 + 2), uid('pb-2')], ['5', 't', null, null]]);
    assert.deepEqual(stored('rc').slice(-2).map((r) => [r[0], r[2]]), [[String(r0 + 1), 'ok1'], [String(r0 + 2), 'ok2']]);
    assert.equal(lastSeq('rc'), r0 + 2);
  });

  test('cids: a resent cid and a cid repeated in one batch answer the stored message, one row each', () => {
    const r0 = lastSeq('rd');
    const first = post([ann('rd', 'hello', { cid: 'c-1' }), bob('rd', 'plain')]);
    assert.deepEqual(first.map((r) => [r.seq, r.duplicate, r.cid]), [[String(r0 + 1), 'f', 'c-1'], [String(r0 + 2), 'f', null]]);
    const again = post([ann('rd', 'hello again', { cid: 'c-1' }), bob('rd', 'x', { cid: 'c-1' }),
      ann('rd', 'twice', { cid: 'c-2' }), ann('rd', 'twice resent', { cid: 'c-2' })]);
    assert.deepEqual(again.map((r) => [r.idx, r.duplicate, r.seq, r.content, r.cid]), [
      ['1', 't', String(r0 + 1), 'hello', 'c-1'],     // Ann's c-1: the stored message
      ['2', 'f', String(r0 + 3), null, 'c-1'],        // Bob's c-1 is his own, fresh
      ['3', 'f', String(r0 + 4), null, 'c-2'],
      ['4', 't', String(r0 + 4), 'twice', 'c-2']]);   // repeated in the batch: the first one
    assert.deepEqual(stored('rd').map((r) => [r[0], r[2], r[3]]), [
      [String(r0 + 1), 'hello', 'c-1'], [String(r0 + 2), 'plain', null],
      [String(r0 + 3), 'x', 'c-1'], [String(r0 + 4), 'twice', 'c-2']]);
  });

  test('a room that does not exist: the whole batch fails, nothing is stored or numbered', () => {
    const a0 = lastSeq('ra'), rows0 = stored('ra').length;
    for (const batch of [[ann('nope', 'x')], [ann('ra', 'x'), ann('nope', 'y')]]) {
      const got = post(batch);
      assert.match(got.error || '', /chat_post_batch: a room does not exist/);
    }
    assert.equal(lastSeq('ra'), a0);
    assert.equal(stored('ra').length, rows0);
  });

  test('an empty batch answers no rows', () => {
    assert.deepEqual(post([]), []);
  });

  test('the fast path answers what the checked path answers for the same batch', () => {
    // Same messages into two fresh rooms at the same last_seq: one through
    // chat_post_batch (no cid, live sessions: the fast path), one through
    // the checked function directly (as the owner: chat_relay may not).
    owner(`INSERT INTO rooms (name) VALUES ('fa'), ('fb'), ('ca'), ('cb')`);
    const batch = (ra, rb) => [ann(ra, 'x1'), bob(rb, 'y1'), bob(ra, 'x2'), ann(ra, 'x3'), ann(rb, 'y2')];
    const fast = post(batch('fa', 'fb'));
    const checked = post(batch('ca', 'cb'), 'chat_post_batch_checked', (s, v) => psqlRun(urlFor(DB), s, v));
    assert.deepEqual(fast, checked);
    assert.deepEqual(stored('fa').map((r) => r.slice(0, 3)), stored('ca').map((r) => r.slice(0, 3)));
    assert.deepEqual(stored('fb').map((r) => r.slice(0, 3)), stored('cb').map((r) => r.slice(0, 3)));
  });

  // chat_post_batch_compact (027), as the relay calls it.
  const COMPACT = [...COLUMNS, 'room_id'];
  const compact = (msgs) => post(msgs, 'chat_post_batch_compact', relay, COMPACT);
  // Its short answer in a fixed order: room rows by room, then sender rows by user.
  const sorted = (rows) => [...rows].sort((a, b) => Number(a.idx) - Number(b.idx) ||
    Number(a.room_id) - Number(b.room_id) || Number(a.user_id) - Number(b.user_id));
  const roomRow = (room, seq) => ({
    idx: '-1', duplicate: 'f', invalid: 'f', room: null, seq: String(seq), user_id: null, nickname: null,
    avatar_url: null, kind: null, content: null, cid: null, room_id: idOf('rooms', 'name', room),
  });
  const senderRow = (who) => ({
    ...fresh(0, 0, who), seq: null, kind: null, room_id: null,
  });

  test('compact, fast path: one row per room (its first number) and one per sender, not per message', () => {
    owner(`INSERT INTO rooms (name) VALUES ('ka'), ('kb')`);
    const a0 = lastSeq('ka'), b0 = lastSeq('kb');
    const got = compact([ann('kb', 'b1'), bob('ka', 'a1'), ann('ka', 'a2'), bob('kb', 'b2'), ann('kb', 'b3')]);
    const want = [roomRow('ka', a0 + 1), roomRow('kb', b0 + 1), senderRow('pb-1'), senderRow('pb-2')];
    assert.deepEqual(sorted(got), sorted(want));
    // Each room's messages numbered from that first number in batch order.
    assert.deepEqual(stored('ka').slice(-2), [[String(a0 + 1), 'pb-2', 'a1', null], [String(a0 + 2), 'pb-1', 'a2', null]]);
    assert.deepEqual(stored('kb').slice(-3).map((r) => [r[0], r[2]]),
      [[String(b0 + 1), 'b1'], [String(b0 + 2), 'b2'], [String(b0 + 3), 'b3']]);
    assert.equal(lastSeq('ka'), a0 + 2);
    assert.equal(lastSeq('kb'), b0 + 3);
    const one = compact([bob('ka', 'a3'), bob('ka', 'a4')]);
    assert.deepEqual(sorted(one), [roomRow('ka', a0 + 3), senderRow('pb-2')]);
  });

  test('compact: its short answer, numbered in batch order, is what chat_post_batch answers', () => {
    owner(`INSERT INTO rooms (name) VALUES ('la'), ('lb'), ('ma'), ('mb')`);
    const batch = (ra, rb) => [ann(ra, 'x1'), bob(rb, 'y1'), bob(ra, 'x2'), ann(ra, 'x3'), ann(rb, 'y2'), bob(rb, 'y3')];
    const msgs = batch('la', 'lb');
    const short = compact(msgs);
    const next = new Map(short.filter((r) => r.idx === '-1').map((r) => [r.room_id, Number(r.seq)]));
    const names = new Map(short.filter((r) => r.idx === '0').map((r) => [r.user_id, r]));
    const expanded = msgs.map((m, i) => {
      const room = idOf('rooms', 'name', m.room), s = names.get(uid(m.user));
      const seq = next.get(room);
      next.set(room, seq + 1);
      return { ...fresh(i + 1, seq, m.user), nickname: s.nickname, avatar_url: s.avatar_url };
    });
    // The four rooms are new (last_seq 0): the numbers compare as they are.
    assert.deepEqual(expanded, post(batch('ma', 'mb')));
    assert.deepEqual(stored('la'), stored('ma'));
    assert.deepEqual(stored('lb'), stored('mb'));
  });

  test('compact, a cid or a bad session: one row per message, as chat_post_batch answers', () => {
    owner(`INSERT INTO rooms (name) VALUES ('na'), ('oa')`);
    const batch = (r) => [ann(r, 'ok'), bob(r, 'expired', { skey: 'expired-2' }), ann(r, 'c', { cid: `cid-${r}` })];
    const got = compact(batch('na'));
    const legacy = post(batch('oa'));
    // (each batch has its own cid: a cid is the sender's across all rooms)
    const sameCid = (r) => ({ ...r, cid: r.cid && r.cid.replace(/-(na|oa)$/, '') });
    assert.deepEqual(got.map(({ room_id, ...r }) => [room_id, sameCid(r)]), legacy.map((r) => [null, sameCid(r)]));
    assert.deepEqual(got.map((r) => [r.idx, r.invalid, r.seq]), [['1', 'f', '1'], ['2', 't', null], ['3', 'f', '2']]);
  });

  test('compact: a missing room fails the batch; an empty batch answers nothing', () => {
    const a0 = lastSeq('ra');
    assert.match(compact([ann('ra', 'x'), ann('nope', 'y')]).error || '', /a room does not exist/);
    assert.equal(lastSeq('ra'), a0);
    assert.deepEqual(compact([]), []);
  });

  test('chat_relay may not call the checked function directly', () => {
    const r = relay(`SELECT * FROM chat_post_batch_checked('{}', '{}', '{}', '{}', '{}', '{}')`);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /permission denied/);
  });
});
