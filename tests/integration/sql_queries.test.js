// sql_queries.test.js -- the ten DBA queries of sql/README.md on a generated
// history of one million messages: each result against an independent
// computation (the same generator written again in JavaScript), each plan
// checked for the index or partition pruning the README promises.
//
// The history goes into a scratch database created (and dropped) here through
// the admin URL, migrated with sql/migrate.sh in two stages: up to 021, the
// bulk load, then the rest (so 022's indexes and 026's search blocks are
// built on a populated table, as in an upgrade of a live system). The
// queries run as chat_dba.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { ROOT, env } = require('../lib/harness');
const { urlFor, psql } = require('../lib/scratch-db');

// --- a scratch database -------------------------------------------------------

const DB = `chat_sqlq_${process.pid}`;



const admin = (script, vars) => psql(env.ADMIN_DATABASE_URL, script, vars);
const owner = (script, vars) => psql(urlFor(DB), script, vars);
const dba = (script, vars) => psql(urlFor(DB, 'chat_dba'), script, vars);

function migrate(extraEnv = {}) {
  return execFileSync(path.join(ROOT, 'sql', 'migrate.sh'), [], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    env: Object.assign({}, process.env, { DATABASE_URL: urlFor(DB) }, extraEnv),
  });
}

// --- the generator, twice: SQL (the load) and JavaScript (the expectations) -----

const N = 1000000;          // messages
const R = 8;                // rooms load_0 .. load_7
const U = 500;              // users user_0 .. user_499
const STEP = 13;            // seconds between messages: N * STEP is about 150 days
const ZEBRAFISH_ZH = '斑马鱼';
const WORDS = ['hello', 'world', 'lunch', 'meeting', 'coffee', 'deploy', 'weekend', 'music', 'travel', 'books'];
const TEND = Math.floor(Date.now() / 1000) - 30;   // the newest message (epoch seconds)
const T0 = TEND - (N - 1) * STEP;

// Message i: room index i % R, room sequence i / R + 1 (dense per room, in
// time order), user a skewed hash of i (NULL: an announcement), every 17th an
// image, every 9973rd (+5) text mentions "zebrafish" and every 9967th (+3)
// "斑马鱼" (zebrafish in Chinese: search must index Chinese words too).
function msg(i) {
  const user = i % 1009 === 0 ? null
    : Math.min((i * 2654435761) % 1000003 % U, (i * 40503) % 999983 % U);
  const image = i % 17 === 0;
  let content;
  if (image) content = `https://img.example.com/${i}.png`;
  else {
    content = ['message', i, WORDS[(i * 7) % 10]].concat(i % 9973 === 5 ? ['zebrafish'] : [],
      i % 9967 === 3 ? [ZEBRAFISH_ZH] : []).join(' ');
  }
  return { room: i % R, seq: Math.floor(i / R) + 1, user, kind: image ? 'image' : 'text', content, t: TEND - (N - 1 - i) * STEP };
}

const LOAD_SQL = `
SET session_replication_role = replica;  -- bulk load: no per-row triggers (seq is given, ids are valid)
SELECT chat_create_partitions_between(to_timestamp(:t0), to_timestamp(:tend));
INSERT INTO rooms (name) SELECT 'load_' || k FROM generate_series(0, :r - 1) k;
INSERT INTO users (openid, nickname) SELECT 'load-openid-' || k, 'user_' || k FROM generate_series(0, :u - 1) k;
CREATE TEMP TABLE ids AS SELECT
  (SELECT array_agg(id ORDER BY substr(name, 6)::int) FROM rooms WHERE name LIKE 'load\\_%') AS rid,
  (SELECT array_agg(id ORDER BY substr(nickname, 6)::int) FROM users WHERE openid LIKE 'load-openid-%') AS uid;
INSERT INTO messages (room_id, seq, user_id, kind, content, created_at)
SELECT ids.rid[i % :r + 1], i / :r + 1,
       CASE WHEN i % 1009 = 0 THEN NULL
            ELSE ids.uid[least(i * 2654435761 % 1000003 % :u, i * 40503 % 999983 % :u) + 1] END,
       CASE WHEN i % 17 = 0 THEN 'image' ELSE 'text' END,
       CASE WHEN i % 17 = 0 THEN 'https://img.example.com/' || i || '.png'
            ELSE concat_ws(' ', 'message', i,
                           (ARRAY['${WORDS.join("','")}'])[i * 7 % 10 + 1],
                           CASE WHEN i % 9973 = 5 THEN 'zebrafish' END,
                           CASE WHEN i % 9967 = 3 THEN '${ZEBRAFISH_ZH}' END) END,
       to_timestamp(:t0 + i * :step)
FROM ids, generate_series(0::bigint, :n - 1) i;
UPDATE rooms SET last_seq = s.last FROM (SELECT room_id, max(seq) AS last FROM messages GROUP BY room_id) s
WHERE rooms.id = s.room_id;
`;

// --- formatting as psql prints it (TimeZone UTC, DateStyle ISO) ------------------

const ts = (sec) => new Date(sec * 1000).toISOString().replace('T', ' ').replace('.000Z', '+00');
const dayStart = (sec) => Math.floor(sec / 86400) * 86400;
const str = (v) => (v === null || v === undefined ? null : String(v));
const byKeys = (...keys) => (a, b) => {
  for (const k of keys) {
    const [x, y] = typeof k === 'function' ? [k(a), k(b)] : [a[k], b[k]];
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
};

// --- the queries of sql/README.md --------------------------------------------------

function readmeQueries() {
  const text = fs.readFileSync(path.join(ROOT, 'sql', 'README.md'), 'utf8');
  const queries = {};
  for (const m of text.matchAll(/```sql\n-- query: (\w+)\n([\s\S]*?)```/g)) queries[m[1]] = m[2].trim().replace(/;$/, '');
  return queries;
}

// Walk an EXPLAIN (FORMAT JSON) plan: partitions of messages read, indexes
// used on them and on message_search, partitions removed at executor start,
// and (EXPLAIN ANALYZE) the rows the bitmap index scans returned.
function planFacts(plan) {
  const facts = { partitions: new Set(), indexes: new Set(), removed: 0, indexRows: 0 };
  (function walk(node) {
    const rel = node['Relation Name'];
    if (rel && rel.startsWith('messages_')) {
      facts.partitions.add(rel);
      if (node['Index Name']) facts.indexes.add(node['Index Name']);
    }
    if (node['Node Type'] === 'Bitmap Index Scan' && /^messages?_/.test(node['Index Name'])) {
      facts.indexes.add(node['Index Name']);
    }
    if (node['Node Type'] === 'Bitmap Index Scan' && 'Actual Rows' in node) {
      facts.indexRows += node['Actual Rows'] * node['Actual Loops'];
    }
    facts.removed += node['Subplans Removed'] || 0;
    for (const child of node.Plans || []) walk(child);
  })(plan[0].Plan);
  return facts;
}

describe('DBA queries on a million messages (sql/README.md)', () => {
  const Q = readmeQueries();
  let uid;            // user index -> users.id
  let rooms;          // every room name in the scratch database
  let partitions;     // [{name, start, end}] of messages (not the default)

  // Parameters: a day in the middle, ten days around a month boundary.
  const from = dayStart(T0 + 40 * 86400);
  const mid = new Date((T0 + 75 * 86400) * 1000);
  const boundary = Date.UTC(mid.getUTCFullYear(), mid.getUTCMonth() + 1, 1) / 1000;
  const vars = {
    room: 'load_3', from: ts(from), to: ts(from + 86400),
    pfrom: ts(boundary - 5 * 86400), pto: ts(boundary + 5 * 86400),
    words: 'zebrafish', id: '50000', uid: '',
  };

  before(() => {
    admin(`DROP DATABASE IF EXISTS ${DB}`);
    admin(`CREATE DATABASE ${DB}`);
    migrate({ MIGRATE_UNTIL: '021' });
    owner(LOAD_SQL, { n: N, r: R, u: U, step: STEP, t0: T0, tend: TEND });
    const out = migrate({ PGOPTIONS: '-c maintenance_work_mem=256MB' });   // index builds in memory
    assert.match(out, /applied 022_history_indexes/);
    assert.match(out, /applied 026_search_blocks/);
    owner('ANALYZE');
    uid = owner(`SELECT substr(nickname, 6)::int, id FROM users WHERE openid LIKE 'load-openid-%'`)
      .reduce((m, [k, id]) => { m[k] = Number(id); return m; }, []);
    rooms = owner('SELECT name FROM rooms').map(([n]) => n);
    partitions = owner(`SELECT partition, extract(epoch FROM range_start), extract(epoch FROM range_end)
                        FROM chat_partitions WHERE NOT is_default`)
      .map(([name, s, e]) => ({ name, start: Number(s), end: Number(e) }));
    vars.uid = String(uid[0]);
  });

  after(() => {
    admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  });

  // Run README query `name` as chat_dba in one transaction; returns now()
  // of that transaction (epoch microseconds) and the rows.
  // (per_day and top_users take the ten days around the month boundary.)
  const varsOf = (name) => (['per_day', 'top_users'].includes(name)
    ? Object.assign({}, vars, { from: vars.pfrom, to: vars.pto }) : vars);
  // `extra` replaces some of the variables.
  function run(name, extra = {}) {
    assert.ok(Q[name], `sql/README.md has no query ${name}`);
    const rows = dba(`BEGIN;\nSELECT (extract(epoch FROM now()) * 1000000)::bigint;\n${Q[name]};\nCOMMIT;`,
      Object.assign({}, varsOf(name), extra));
    return { now: Number(rows[0][0]), rows: rows.slice(1) };
  }
  function explain(name, extra = {}, options = '') {
    const plan = dba(`EXPLAIN (${options}FORMAT JSON) ${Q[name]}`, Object.assign({}, varsOf(name), extra));
    return planFacts(JSON.parse(plan.map((r) => r.join('')).join('\n')));
  }
  const monthsOverlapping = (lo, hi) => partitions.filter((p) => p.start < hi && p.end > lo).map((p) => p.name).sort();
  const sender = (m) => [str(m.user === null ? null : uid[m.user]), m.user === null ? null : `user_${m.user}`];

  test('the load is complete and nothing is in the default partition', () => {
    assert.deepEqual(owner(`SELECT count(*), count(*) FILTER (WHERE tableoid = 'messages_default'::regclass),
                                   count(DISTINCT date_trunc('month', created_at)) FROM messages`),
      [[String(N), '0', String(partitions.filter((p) => p.start <= TEND && p.end > T0).length)]]);
    assert.ok(partitions.filter((p) => p.start <= TEND && p.end > T0).length >= 5, 'history spans at least 5 months');
  });

  test('1. room_history: one room, one day, ordered by id', () => {
    const want = [];
    for (let i = 3; i < N; i += R) {
      const m = msg(i);
      if (m.t >= from && m.t < from + 86400) want.push([str(m.seq), ts(m.t), ...sender(m), m.kind, m.content]);
    }
    assert.ok(want.length > 500);
    assert.deepEqual(run('room_history').rows, want);
    const plan = explain('room_history');
    assert.deepEqual([...plan.partitions].sort(), monthsOverlapping(from, from + 86400), 'pruned to the day\'s month');
    // (room_id, created_at), (created_at) or the primary key: any index, not a scan of the month.
    assert.ok(plan.indexes.size > 0, 'an index of the month is used');
  });

  test('2. user_messages: newest 100 of one user', () => {
    const want = [];
    for (let i = N - 1; i >= 0 && want.length < 100; i--) {
      const m = msg(i);
      if (m.user === 0) want.push([`load_${m.room}`, str(m.seq), ts(m.t), m.kind, m.content]);
    }
    assert.deepEqual(run('user_messages').rows, want);
    const plan = explain('user_messages');
    assert.ok([...plan.indexes].some((ix) => /user_id_created_at_idx$/.test(ix)), `indexes used: ${[...plan.indexes]}`);
  });

  function periodMessages(each) {
    const lo = boundary - 5 * 86400, hi = boundary + 5 * 86400;
    for (let i = Math.max(0, Math.ceil((lo - T0) / STEP)); i < N; i++) {
      const m = msg(i);
      if (m.t >= hi) break;
      if (m.t >= lo) each(m);
    }
  }

  test('3. per_day: messages per day per room across a month boundary', () => {
    const counts = new Map();
    periodMessages((m) => {
      const key = `${dayStart(m.t)}|load_${m.room}`;
      counts.set(key, (counts.get(key) || 0) + 1);
    });
    const want = [...counts].map(([k, c]) => { const [d, r] = k.split('|'); return { d: Number(d), r, c }; })
      .sort(byKeys('d', 'r')).map((x) => [x.r, ts(x.d), String(x.c)]);
    assert.equal(want.length, 10 * R);
    assert.deepEqual(run('per_day').rows, want);
    const plan = explain('per_day');
    assert.deepEqual([...plan.partitions].sort(), monthsOverlapping(boundary - 5 * 86400, boundary + 5 * 86400));
    assert.equal(plan.partitions.size, 2, 'exactly the two months around the boundary');
  });

  test('4. top_users: the ten most active users of the period', () => {
    const counts = new Map();
    periodMessages((m) => { if (m.user !== null) counts.set(m.user, (counts.get(m.user) || 0) + 1); });
    const want = [...counts].map(([u, c]) => ({ id: uid[u], u, c }))
      .sort(byKeys((x) => -x.c, 'id')).slice(0, 10).map((x) => [String(x.id), `user_${x.u}`, String(x.c)]);
    assert.deepEqual(run('top_users').rows, want);
    assert.equal(explain('top_users').partitions.size, 2, 'pruned to the two months');
  });

  // The text messages i = first, first + every, ... (those that carry a
  // search word), and the search query's answer for them: the newest 50.
  function searchHits(first, every) {
    const hits = [];
    for (let i = first; i < N; i += every) {
      const m = msg(i);
      if (m.kind === 'text') hits.push(m);
    }
    assert.ok(hits.length > 50);
    const want = [...hits].sort(byKeys((m) => -m.t)).slice(0, 50)
      .map((m) => [`load_${m.room}`, str(m.seq), ts(m.t), ...sender(m), m.content]);
    return { count: hits.length, want };
  }
  const usesTrigramIndex = (plan) => assert.ok(plan.indexes.has('message_search_body_idx'),
    `indexes used: ${[...plan.indexes]}`);

  test('5. search: text messages containing a word, through the trigram index', () => {
    assert.deepEqual(run('search').rows, searchHits(5, 9973).want);
    usesTrigramIndex(explain('search'));
  });

  test('5. search in Chinese: the trigram index finds Chinese words', () => {
    const { count, want } = searchHits(3, 9967);
    assert.deepEqual(run('search', { words: ZEBRAFISH_ZH }).rows, want);
    // The index itself narrows the search to the matches: under a character
    // type without Chinese letters it yields no trigram for the word, and
    // the scan returns every block for the recheck. (The load stored each
    // message at a time of its own, so each is a block of one.)
    const plan = explain('search', { words: ZEBRAFISH_ZH }, 'ANALYZE, ');
    usesTrigramIndex(plan);
    assert.equal(plan.indexRows, count, 'blocks the trigram index returned');
  });

  test('6. last_per_room: every room with its last message', () => {
    const want = [...rooms].sort().map((name) => {
      const k = /^load_(\d+)$/.exec(name);
      if (!k) return [name, '0', null, null, null, null, null];
      const m = msg(N - R + Number(k[1]));
      return [name, String(N / R), str(m.seq), ts(m.t), sender(m)[1], m.kind, m.content];
    });
    assert.deepEqual(run('last_per_room').rows, want);
    const plan = explain('last_per_room');
    assert.ok([...plan.indexes].some((ix) => /_pkey$/.test(ix)), `indexes used: ${[...plan.indexes]}`);
  });

  test('7. last_hour: messages of the last hour, older months pruned at start', () => {
    const { now, rows } = run('last_hour');
    const want = [];
    for (let i = N - 1; i >= 0; i--) {
      const m = msg(i);
      if (m.t * 1e6 <= now - 3600e6) break;
      want.push(m);
    }
    want.sort(byKeys('t', (m) => `load_${m.room}`, 'seq'));
    assert.ok(want.length > 200);
    assert.deepEqual(rows, want.map((m) => [`load_${m.room}`, str(m.seq), ts(m.t), ...sender(m), m.kind, m.content]));
    const plan = explain('last_hour');
    assert.ok(plan.removed >= 4, `subplans removed: ${plan.removed}`);
    // In the first days of a month its partition is small enough for a
    // sequential scan to be the right plan; later the index must be used.
    const d = new Date(now / 1000);
    if (now / 1e6 - Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000 > 3 * 86400) {
      assert.ok([...plan.indexes].some((ix) => /created_at_idx$/.test(ix)), `indexes used: ${[...plan.indexes]}`);
    }
  });

  test('8. around: ten messages either side of an id', () => {
    const want = [];
    for (let seq = 49990; seq <= 50010; seq++) {
      const m = msg((seq - 1) * R + 3);
      want.push([str(m.seq), ts(m.t), ...sender(m), m.kind, m.content]);
    }
    assert.deepEqual(run('around').rows, want);
    const plan = explain('around');
    assert.ok([...plan.indexes].some((ix) => /_pkey$/.test(ix)), `indexes used: ${[...plan.indexes]}`);
  });

  test('9. rooms_by_activity: messages and senders of the last 7 days per room', () => {
    const { now, rows } = run('rooms_by_activity');
    const acc = new Map(rooms.map((r) => [r, { count: 0, senders: new Set(), last: null }]));
    for (let i = N - 1; i >= 0; i--) {
      const m = msg(i);
      if (m.t * 1e6 <= now - 7 * 86400e6) break;
      const a = acc.get(`load_${m.room}`);
      a.count++;
      if (m.user !== null) a.senders.add(m.user);
      if (a.last === null) a.last = m.t;
    }
    const want = [...acc].map(([r, a]) => ({ r, ...a })).sort(byKeys((x) => -x.count, 'r'))
      .map((x) => [x.r, String(x.count), String(x.senders.size), x.last === null ? null : ts(x.last)]);
    assert.deepEqual(rows, want);
    assert.ok(explain('rooms_by_activity').removed >= 4, 'older months pruned');
  });

  test('10. active_today: users with messages since midnight (UTC session)', () => {
    const { now, rows } = run('active_today');
    const midnight = dayStart(Math.floor(now / 1e6));
    const acc = new Map();
    for (let i = N - 1; i >= 0; i--) {
      const m = msg(i);
      if (m.t < midnight) break;
      if (m.user === null) continue;
      const a = acc.get(m.user) || { count: 0, first: m.t, last: m.t };
      a.count++;
      a.first = Math.min(a.first, m.t);
      a.last = Math.max(a.last, m.t);
      acc.set(m.user, a);
    }
    const want = [...acc].map(([u, a]) => ({ u, id: uid[u], ...a })).sort(byKeys((x) => -x.count, 'id'))
      .map((x) => [String(x.id), `user_${x.u}`, String(x.count), ts(x.first), ts(x.last)]);
    assert.deepEqual(rows, want);
    const plan = explain('active_today');
    assert.ok(plan.removed >= 4, `subplans removed: ${plan.removed}`);
  });
});
