// sql_partitions.test.js -- monthly partitions of messages in a scratch
// database: the relay's gap-free sequence across a month boundary, rows
// parked in messages_default moved into partitions created later (by
// sql/migrate.sh), retention that drops or archives old months
// (chat_drop_partitions, tools/maintenance.sh).
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const { ROOT, env } = require('../lib/harness');
const { urlFor, psqlRun, psql } = require('../lib/scratch-db');

const DB = `chat_sqlp_${process.pid}`;


const admin = (script) => psql(env.ADMIN_DATABASE_URL, script);
const owner = (script, vars) => psql(urlFor(DB), script, vars);

function tool(rel, extraEnv = {}) {
  const r = spawnSync(path.join(ROOT, ...rel.split('/')), [], {
    encoding: 'utf8', env: Object.assign({}, process.env, { DATABASE_URL: urlFor(DB) }, extraEnv),
  });
  assert.equal(r.status, 0, `${rel}: ${r.stderr}`);
  return r.stdout;
}

// 'YYYYMM' of the UTC month `k` months from now.
const monthName = (k) => owner(`SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => ${k}), 'YYYYMM')`)[0][0];
// Start of that month as a timestamptz literal.
const monthStart = (k) => owner(`SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => ${k})) AT TIME ZONE 'UTC'`)[0][0];

describe('message partitions (scratch database)', () => {
  let uid;

  before(() => {
    admin(`DROP DATABASE IF EXISTS ${DB}`);
    admin(`CREATE DATABASE ${DB}`);
    tool('sql/migrate.sh');
    uid = owner(`INSERT INTO users (openid, nickname) VALUES ('openid-part', 'Parter') RETURNING id`)[0][0];
    owner(`INSERT INTO rooms (name) VALUES ('boundary'), ('parking'), ('old')`);
  });
  after(() => {
    admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  });

  const rowsOf = (room) => owner(`SELECT m.seq, m.content, m.tableoid::regclass::text FROM messages m
                                  JOIN rooms r ON r.id = m.room_id WHERE r.name = '${room}' ORDER BY m.seq`);

  test('the relay\'s gap-free sequence works across a month boundary', () => {
    const boundary = monthStart(1);
    // Two relay batches (chat_relay, as DESIGN-NOTES: take the room's row
    // lock, number, insert), one row just before and one at the boundary each
    // time, and announcements typed into psql (numbered by the trigger).
    const batch = (a, b) => {
      const r = psqlRun(urlFor(DB, 'chat_relay'), `BEGIN;
UPDATE rooms SET last_seq = last_seq + 2 WHERE name = 'boundary' RETURNING id AS rid, last_seq AS top \\gset
INSERT INTO messages (room_id, seq, user_id, kind, content, created_at) VALUES
  (:rid, :top - 1, :uid, 'text', :'a', :'b'::timestamptz - interval '1 microsecond'),
  (:rid, :top, :uid, 'text', :'c', :'b'::timestamptz);
COMMIT;`, { uid, a, c: b, b: boundary });
      assert.equal(r.status, 0, r.stderr);
    };
    batch('relay before', 'relay at');
    owner(`INSERT INTO messages (room_id, kind, content, created_at)
           SELECT id, 'text', 'announce before', :'b'::timestamptz - interval '1 millisecond' FROM rooms WHERE name = 'boundary';
           INSERT INTO messages (room_id, kind, content, created_at)
           SELECT id, 'text', 'announce after', :'b'::timestamptz + interval '1 day' FROM rooms WHERE name = 'boundary';`,
    { b: boundary });
    batch('relay before 2', 'relay at 2');
    const [cur, next] = [`messages_${monthName(0)}`, `messages_${monthName(1)}`];
    assert.deepEqual(rowsOf('boundary'), [
      ['1', 'relay before', cur], ['2', 'relay at', next],
      ['3', 'announce before', cur], ['4', 'announce after', next],
      ['5', 'relay before 2', cur], ['6', 'relay at 2', next],
    ]);
    assert.deepEqual(owner(`SELECT last_seq FROM rooms WHERE name = 'boundary'`), [['6']]);
    // The DBA's view sees them in sequence order with their times.
    assert.deepEqual(psql(urlFor(DB, 'chat_dba'), `SELECT id, time = :'b'::timestamptz FROM chat_history
                                                    WHERE room = 'boundary' ORDER BY id`, { b: boundary }),
    [['1', 'f'], ['2', 't'], ['3', 'f'], ['4', 'f'], ['5', 'f'], ['6', 't']]);
  });

  test('rows parked in messages_default move into the partitions sql/migrate.sh creates later', () => {
    const far = monthStart(6);
    owner(`INSERT INTO messages (room_id, user_id, kind, content, created_at)
           SELECT r.id, :'uid', 'text', c, t FROM rooms r,
             (VALUES ('far future', :'far'::timestamptz + interval '3 days'),
                     ('long ago', timestamptz '2001-03-15 12:00+00'),
                     ('long ago 2', timestamptz '2001-03-31 23:59:59.999999+00')) v (c, t)
           WHERE r.name = 'parking'`, { uid, far });
    const parked = `messages_default`;
    assert.deepEqual(rowsOf('parking').map((r) => r[2]), [parked, parked, parked]);

    const out = tool('sql/migrate.sh', { PARTITION_MONTHS_AHEAD: '6' });
    // Months 4, 5, 6 ahead and March 2001 (from the default partition).
    assert.match(out, /^migrate: 4 message partition\(s\) created \(6 month\(s\) ahead\)$/m);
    assert.deepEqual(rowsOf('parking'), [
      ['1', 'far future', `messages_${monthName(6)}`],
      ['2', 'long ago', 'messages_200103'],
      ['3', 'long ago 2', 'messages_200103'],
    ]);
    assert.deepEqual(owner('SELECT count(*) FROM messages_default'), [['0']]);
    // The moved rows are still one history, numbering continues.
    owner(`INSERT INTO messages (room_id, user_id, kind, content) SELECT id, :'uid', 'text', 'now' FROM rooms WHERE name = 'parking'`, { uid });
    assert.deepEqual(rowsOf('parking').map((r) => r[0]), ['1', '2', '3', '4']);
    assert.deepEqual(owner(`SELECT last_seq FROM rooms WHERE name = 'parking'`), [['4']]);
  });

  test('chat_create_partition moves rows of its month out of the default partition', () => {
    const later = monthStart(9);
    owner(`INSERT INTO messages (room_id, user_id, kind, content, created_at)
           SELECT id, :'uid', 'text', 'later', :'later'::timestamptz FROM rooms WHERE name = 'parking'`, { uid, later });
    assert.deepEqual(owner(`SELECT chat_create_partition(:'later'), chat_create_partition(:'later')`, { later }), [['t', 'f']]);
    assert.deepEqual(owner(`SELECT tableoid::regclass::text FROM messages WHERE content = 'later'`), [[`messages_${monthName(9)}`]]);
    // A full partition: its indexes (the key, 022's three) and the row trigger numbering announcements.
    assert.deepEqual(owner(`SELECT count(*) >= 4 FROM pg_indexes WHERE tablename = 'messages_${monthName(9)}'`), [['t']]);
    owner(`INSERT INTO messages (room_id, kind, content, created_at)
           SELECT id, 'text', 'later 2', :'later'::timestamptz + interval '1 hour' FROM rooms WHERE name = 'parking'`, { later });
    assert.deepEqual(owner(`SELECT seq FROM messages WHERE content = 'later 2'`), [['6']]);
  });

  test('creating a partition while a relay transaction writes into messages_default does not deadlock', async () => {
    const month = '2041-01-01 00:00+00';
    // A relay batch that holds its room's row lock, then inserts a row of a
    // month without partition (into messages_default) and commits.
    const relay = spawn('psql', [urlFor(DB, 'chat_relay'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', `uid=${uid}`], {
      env: Object.assign({}, process.env, { PGAPPNAME: 'deadlock-probe' }),
    });
    let relayErr = '';
    relay.stderr.on('data', (d) => { relayErr += d; });
    const relayDone = new Promise((resolve) => relay.on('close', resolve));
    relay.stdin.end(`BEGIN;
UPDATE rooms SET last_seq = last_seq + 1 WHERE name = 'parking' RETURNING id AS rid, last_seq AS top \\gset
SELECT pg_sleep(2);
INSERT INTO messages (room_id, seq, user_id, kind, content, created_at)
VALUES (:rid, :top, :uid, 'text', 'into the default', timestamptz '${month}' + interval '4 days');
COMMIT;
`);
    // Once it holds the row lock (it sleeps), create that month's partition.
    for (;;) {
      const [[n]] = owner(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'deadlock-probe' AND wait_event = 'PgSleep'`);
      if (n === '1') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const create = psqlRun(urlFor(DB), `SELECT chat_create_partition('${month}')`);
    const code = await relayDone;
    assert.equal(code, 0, `relay transaction: ${relayErr}`);
    assert.equal(create.status, 0, `chat_create_partition: ${create.stderr}`);
    assert.deepEqual(create.rows, [['t']]);
    assert.deepEqual(owner(`SELECT tableoid::regclass::text FROM messages WHERE content = 'into the default'`), [['messages_204101']]);
  });

  test('chat_drop_partitions drops whole months older than the retention, and their message_cids', () => {
    owner(`INSERT INTO messages (room_id, user_id, kind, content, cid, created_at)
           SELECT r.id, :'uid', 'text', c, cid, t FROM rooms r,
             (VALUES ('old april', 'cid-april', timestamptz '2001-04-10 00:00+00'),
                     ('recent', 'cid-recent', now() - interval '10 days')) v (c, cid, t)
           WHERE r.name = 'old';
           INSERT INTO message_cids (user_id, cid, room_id, seq, created_at)
           SELECT m.user_id, m.cid, m.room_id, m.seq, m.created_at FROM messages m WHERE m.cid IS NOT NULL;`, { uid });
    assert.deepEqual(owner(`SELECT chat_drop_partitions('1 year')`), [['2']]);   // March and April 2001
    const parts = owner('SELECT partition FROM chat_partitions').map((r) => r[0]);
    assert.ok(!parts.includes('messages_200103') && !parts.includes('messages_200104'), String(parts));
    assert.ok(parts.includes(`messages_${monthName(0)}`));
    assert.deepEqual(owner(`SELECT content FROM messages WHERE content IN ('long ago', 'long ago 2', 'old april', 'recent')`), [['recent']]);
    assert.deepEqual(owner('SELECT cid FROM message_cids ORDER BY cid'), [['cid-recent']]);
    // Nothing else changed: the other rooms' rows and counters.
    assert.deepEqual(rowsOf('boundary').length, 6);
    assert.deepEqual(owner(`SELECT chat_drop_partitions('1 year')`), [['0']]);
    const neg = psqlRun(urlFor(DB), `SELECT chat_drop_partitions('-1 day')`);
    assert.notEqual(neg.status, 0);
    assert.match(neg.stderr, /retention must not be negative/);
  });

  test('tools/maintenance.sh with MESSAGE_ARCHIVE=1 detaches old months into chat_archive', () => {
    owner(`INSERT INTO messages (room_id, user_id, kind, content, created_at)
           SELECT id, :'uid', 'text', 'archived may', timestamptz '2002-05-05 00:00+00' FROM rooms WHERE name = 'old'`, { uid });
    const out = tool('tools/maintenance.sh', { MESSAGE_RETENTION: '1 year', MESSAGE_ARCHIVE: '1', SESSION_GRACE: '1 day' });
    assert.match(out, /^maintenance: \S+ partitions_created=1 partitions_removed=1 sessions_deleted=0 retention=1 year$/m);
    assert.deepEqual(owner(`SELECT content FROM chat_archive.messages_200205`), [['archived may']]);
    assert.deepEqual(owner(`SELECT count(*) FROM messages WHERE content = 'archived may'`), [['0']]);
    const dba = psqlRun(urlFor(DB, 'chat_dba'), 'SELECT count(*) FROM chat_archive.messages_200205');
    assert.notEqual(dba.status, 0);
    assert.match(dba.stderr, /permission denied for schema chat_archive/);
    // Without a retention nothing is removed.
    assert.match(tool('tools/maintenance.sh'), /partitions_removed=0 .*retention=none$/m);
  });
});
