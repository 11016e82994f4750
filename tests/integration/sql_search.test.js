// sql_search.test.js -- the text search of migration 026 on a scratch
// database: the blocks that inserts, updates and the retention keep in
// message_search, and chat_search(words), which must return exactly the text
// messages whose content contains the words (the same as ILIKE on every
// message), each once, to chat_dba.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { urlFor, psqlRun, psql, createMigratedDb, dropDb } = require('../lib/scratch-db');

const DB = `chat_sqls_${process.pid}`;

const owner = (script, vars) => psql(urlFor(DB), script, vars);
const relay = (script, vars) => psql(urlFor(DB, 'chat_relay'), script, vars);
const dba = (script, vars) => psql(urlFor(DB, 'chat_dba'), script, vars);

const SETUP = `
INSERT INTO users (openid, nickname) VALUES ('s-1', 'Ann'), ('s-2', 'Bob');
INSERT INTO rooms (name) VALUES ('sa'), ('sb'), ('sc');
INSERT INTO sessions (id, skey_hash, user_id, wx_session_key, expires_at)
SELECT 'live-' || u.openid, sha256(convert_to('skey-' || u.openid, 'UTF8')), u.id, 'k', now() + interval '1 hour'
FROM users u;`;

// chat_search as chat_dba: [room, id, content] sorted by room and id.
const search = (words) => dba(`SELECT room, id, content FROM chat_search(:'w') ORDER BY room, id`, { w: words });
// The same, the slow way: ILIKE on every message of chat_history.
const scan = (words) => dba(`SELECT room, id, content FROM chat_history
  WHERE kind = 'text' AND content ILIKE '%' || :'w' || '%' ORDER BY room, id`, { w: words });
// A room's blocks: [first id, last id, text with its line breaks shown as |].
const blocks = (room) => owner(`SELECT s.first_seq, s.last_seq, replace(s.body, E'\\n', '|') FROM message_search s
  JOIN rooms r ON r.id = s.room_id WHERE r.name = :'r' ORDER BY s.first_seq, s.last_seq`, { r: room });
const lastSeq = (room) => Number(owner(`SELECT last_seq FROM rooms WHERE name = :'r'`, { r: room })[0][0]);

// users.id by openid, looked up once.
const uids = new Map();
const uidOf = (openid) => {
  if (!uids.has(openid)) uids.set(openid, owner(`SELECT id FROM users WHERE openid = :'o'`, { o: openid })[0][0]);
  return uids.get(openid);
};

// One relay batch of chat_post_batch as chat_relay: [room, openid, text].
function post(msgs) {
  const list = (f) => msgs.map(f).join('\x1f');
  const arr = (v, type) => `string_to_array(:'${v}', E'\\x1f')::${type}[]`;
  const rows = relay(`
SELECT count(*) FILTER (WHERE NOT b.invalid AND NOT b.duplicate)
FROM chat_post_batch(
  (SELECT array_agg((SELECT id FROM rooms WHERE name = x) ORDER BY i) FROM unnest(${arr('rooms', 'text')}) WITH ORDINALITY t(x, i)),
  ${arr('uids', 'bigint')}, array_fill('text'::text, ARRAY[${msgs.length}]), ${arr('texts', 'text')},
  array_fill(NULL::text, ARRAY[${msgs.length}]),
  (SELECT array_agg(sha256(convert_to('skey-' || x, 'UTF8')) ORDER BY i) FROM unnest(${arr('who', 'text')}) WITH ORDINALITY t(x, i))) b;`,
  { rooms: list((m) => m[0]), uids: list((m) => uidOf(m[1])), texts: list((m) => m[2]), who: list((m) => m[1]) });
  assert.equal(rows[0][0], String(msgs.length), 'every message stored');
}

describe('text search through message_search (migration 026)', () => {
  before(() => {
    createMigratedDb(DB);
    owner(SETUP);
  });
  after(() => dropDb(DB));

  test('a relay batch makes one block per room, and each message is found by its words', () => {
    const a0 = lastSeq('sa'), b0 = lastSeq('sb');
    post([['sa', 's-1', 'Apple pie'], ['sb', 's-2', 'banana split'], ['sa', 's-2', 'cherry tart'],
      ['sa', 's-1', 'apple CRUMBLE']]);
    assert.deepEqual(blocks('sa'), [[String(a0 + 1), String(a0 + 3), 'Apple pie|cherry tart|apple CRUMBLE']]);
    assert.deepEqual(blocks('sb'), [[String(b0 + 1), String(b0 + 1), 'banana split']]);
    assert.deepEqual(search('APPLE'), [['sa', String(a0 + 1), 'Apple pie'], ['sa', String(a0 + 3), 'apple CRUMBLE']]);
    assert.deepEqual(search('split'), [['sb', String(b0 + 1), 'banana split']]);
    assert.deepEqual(search('APPLE'), scan('APPLE'));
  });

  test('words that a block holds across two messages match no message', () => {
    const a0 = lastSeq('sa');
    post([['sa', 's-1', 'left half'], ['sa', 's-1', 'right half']]);
    assert.deepEqual(blocks('sa').at(-1), [String(a0 + 1), String(a0 + 2), 'left half|right half']);
    assert.deepEqual(search('half\nright'), []);
    assert.deepEqual(search('f%r'), scan('f%r'), 'a wildcard across the line break');
    assert.equal(search('half').length, 2);
  });

  test('a message inserted on its own (an announcement in psql) is found; an image is not', () => {
    const c0 = lastSeq('sc');
    relay(`INSERT INTO messages (room_id, kind, content) SELECT id, 'text', 'Welcome, Zebrafish fans' FROM rooms WHERE name = 'sc';
           INSERT INTO messages (room_id, kind, content) SELECT id, 'image', 'https://img.example.com/zebrafish.png' FROM rooms WHERE name = 'sc';`);
    assert.deepEqual(blocks('sc'), [[String(c0 + 1), String(c0 + 1), 'Welcome, Zebrafish fans']]);
    assert.deepEqual(search('zebrafish'), [['sc', String(c0 + 1), 'Welcome, Zebrafish fans']]);
  });

  test('Chinese words are found', () => {
    const b0 = lastSeq('sb');
    post([['sb', 's-1', '今天我们去看斑马鱼'], ['sb', 's-2', '好的']]);
    assert.deepEqual(search('斑马鱼'), [['sb', String(b0 + 1), '今天我们去看斑马鱼']]);
  });

  test('an edited message is found by its new words, not its old ones, and once', () => {
    const a0 = lastSeq('sa');
    post([['sa', 's-1', 'gamma oldword'], ['sa', 's-2', 'gamma other']]);
    owner(`UPDATE messages SET content = 'gamma newword' WHERE content = 'gamma oldword'`);
    assert.deepEqual(search('newword'), [['sa', String(a0 + 1), 'gamma newword']]);
    assert.deepEqual(search('oldword'), []);
    // Both blocks of message a0 + 1 hold "gamma": still one row for it.
    assert.deepEqual(search('gamma'), [['sa', String(a0 + 1), 'gamma newword'], ['sa', String(a0 + 2), 'gamma other']]);
  });

  test('a deleted message is not found; the rest of its block is', () => {
    const a0 = lastSeq('sa');
    post([['sa', 's-1', 'delta one'], ['sa', 's-1', 'delta two']]);
    owner(`DELETE FROM messages WHERE content = 'delta one'`);
    assert.deepEqual(search('delta'), [['sa', String(a0 + 2), 'delta two']]);
  });

  test('chat_search returns what ILIKE on every message returns, for many words', () => {
    for (const w of ['a', 'an', 'ple', 'HALF', 'zz', '鱼', '%', '_', 'e t']) assert.deepEqual(search(w), scan(w), w);
  });

  test('chat_dba may search and read the blocks, not write them', () => {
    assert.ok(Number(dba('SELECT count(*) FROM message_search')[0][0]) > 0);
    const w = psqlRun(urlFor(DB, 'chat_dba'), `BEGIN READ WRITE; INSERT INTO message_search VALUES (1, now(), 1, 1, 'x');`);
    assert.notEqual(w.status, 0);
    assert.match(w.stderr, /permission denied/);
  });

  test('the retention removes the blocks of the months it drops', () => {
    owner(`SELECT chat_create_partitions_between('2001-03-01', '2001-03-31')`);
    owner(`INSERT INTO messages (room_id, kind, content, created_at)
           SELECT id, 'text', 'epsilon from 2001', '2001-03-15' FROM rooms WHERE name = 'sc'`);
    assert.equal(search('epsilon').length, 1);
    const old = `SELECT count(*) FROM message_search WHERE created_at < '2002-01-01'`;
    assert.deepEqual(owner(old), [['1']]);
    owner(`SELECT chat_drop_partitions('1 year')`);
    assert.deepEqual(owner(old), [['0']]);
    assert.deepEqual(search('epsilon'), []);
    assert.equal(search('APPLE').length, 2, 'the recent blocks stay');
  });
});
