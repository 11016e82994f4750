// sql_migrations.test.js -- sql/migrate.sh on an empty scratch database
// (twice: the second run applies nothing; a failing migration leaves no
// trace), the privileges of each role (connecting as that role), the session
// cleanup job, and `make psql` (tools/psql.sh) against the test stack.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');
const { ROOT, env } = require('../lib/harness');
const { urlFor, psqlRun, psql } = require('../lib/scratch-db');

const DB = `chat_sqlm_${process.pid}`;


const admin = (script) => psql(env.ADMIN_DATABASE_URL, script);
const owner = (script, vars) => psql(urlFor(DB), script, vars);
const as = (role, script, vars) => psqlRun(urlFor(DB, role), script, vars);

function migrate(script = path.join(ROOT, 'sql', 'migrate.sh'), extraEnv = {}) {
  return spawnSync(script, [], {
    encoding: 'utf8', env: Object.assign({}, process.env, { DATABASE_URL: urlFor(DB) }, extraEnv),
  });
}

const migrationFiles = () => fs.readdirSync(path.join(ROOT, 'sql', 'migrations'))
  .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).map((f) => f.replace(/\.sql$/, '')).sort();

function assertDenied(r, what) {
  assert.notEqual(r.status, 0, `${what} should fail`);
  assert.match(r.stderr, /permission denied/, `${what}: ${r.stderr}`);
}

describe('migrations, roles and privileges (scratch database)', () => {
  before(() => {
    admin(`DROP DATABASE IF EXISTS ${DB}`);
    admin(`CREATE DATABASE ${DB}`);
  });
  after(() => {
    admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  });

  test('the first run applies every migration in order, the second applies nothing', () => {
    const first = migrate();
    assert.equal(first.status, 0, first.stderr);
    const applied = [...first.stdout.matchAll(/^migrate: applied (\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(applied, migrationFiles());
    assert.match(first.stdout, /^migrate: \d+ message partition\(s\) created \(3 month\(s\) ahead\)$/m);
    const versions = owner('SELECT version FROM schema_migrations ORDER BY version').map((r) => r[0]);
    assert.deepEqual(versions, migrationFiles());

    assert.doesNotMatch(first.stderr, /warning/, 'the cluster\'s C.UTF-8 character type knows Chinese letters');

    const second = migrate();
    assert.equal(second.status, 0, second.stderr);
    assert.doesNotMatch(second.stdout, /applied \d{3}_/);
    assert.match(second.stdout, /^migrate: 0 applied, database is up to date$/m);
    assert.match(second.stdout, /^migrate: 0 message partition\(s\) created/m);
    assert.deepEqual(owner('SELECT version FROM schema_migrations ORDER BY version').map((r) => r[0]), versions);
    // This month and the next three have their partitions.
    const months = owner(`SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => k), 'YYYYMM')
                          FROM generate_series(0, 3) k`).map((r) => `messages_${r[0]}`);
    const parts = owner('SELECT partition FROM chat_partitions').map((r) => r[0]);
    for (const m of months) assert.ok(parts.includes(m), `${m} in ${parts}`);
  });

  test('a database whose character type has no Chinese letters gets a warning', () => {
    const db = `${DB}_c`;
    admin(`DROP DATABASE IF EXISTS ${db}`);
    admin(`CREATE DATABASE ${db} TEMPLATE template0 LC_CTYPE 'C'`);
    try {
      const r = migrate(undefined, { DATABASE_URL: urlFor(db) });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /^migrate: warning: the database's LC_CTYPE is C, which has no Chinese letters: the text search index skips Chinese words/m);
    } finally {
      admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    }
  });

  test('a failing migration is rolled back whole and stops the run', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migrate-test-'));
    try {
      fs.mkdirSync(path.join(dir, 'migrations'));
      fs.copyFileSync(path.join(ROOT, 'sql', 'migrate.sh'), path.join(dir, 'migrate.sh'));
      fs.chmodSync(path.join(dir, 'migrate.sh'), 0o755);
      for (const f of migrationFiles()) {
        fs.copyFileSync(path.join(ROOT, 'sql', 'migrations', `${f}.sql`), path.join(dir, 'migrations', `${f}.sql`));
      }
      fs.writeFileSync(path.join(dir, 'migrations', '998_probe_broken.sql'),
        'CREATE TABLE probe_half_done (x int);\nSELECT 1 / 0;\n');
      fs.writeFileSync(path.join(dir, 'migrations', '999_probe_after.sql'), 'CREATE TABLE probe_after (x int);\n');
      const r = migrate(path.join(dir, 'migrate.sh'));
      assert.notEqual(r.status, 0, 'migrate.sh fails');
      assert.match(r.stderr, /division by zero/);
      assert.deepEqual(owner(`SELECT to_regclass('probe_half_done') IS NULL, to_regclass('probe_after') IS NULL,
                                     count(*) FROM schema_migrations WHERE version LIKE '99%'`), [['t', 't', '0']]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('privileges', () => {
    before(() => {
      owner(`INSERT INTO users (openid, nickname) VALUES ('openid-priv-1', 'Priv One');
             INSERT INTO sessions (id, skey_hash, user_id, wx_session_key, expires_at)
             SELECT 'sess-priv-1', sha256('skey-priv-1'), id, 'wx-secret-key', now() + interval '1 day'
             FROM users WHERE openid = 'openid-priv-1';
             INSERT INTO sessions (id, skey_hash, user_id, wx_session_key, expires_at)
             SELECT 'sess-priv-2', sha256('skey-priv-2'), id, 'wx-secret-key-2', now() + interval '1 day'
             FROM users WHERE openid = 'openid-priv-1';
             INSERT INTO messages (room_id, user_id, kind, content)
             SELECT r.id, u.id, 'text', 'hello from the privilege test'
             FROM rooms r, users u WHERE r.name = 'lobby' AND u.openid = 'openid-priv-1';`);
    });

    test('chat_relay: chat_session_lookup finds one session by skey hash, sessions stay unreadable', () => {
      const r = as('chat_relay', `SELECT session_id, nickname, revoked FROM chat_session_lookup(sha256('skey-priv-1'))`);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.rows, [['sess-priv-1', 'Priv One', 'f']]);
      assertDenied(as('chat_relay', 'SELECT id FROM sessions'), 'chat_relay SELECT sessions');
      assertDenied(as('chat_relay', 'SELECT skey_hash FROM sessions'), 'chat_relay SELECT skey_hash');
      assertDenied(as('chat_relay', 'SELECT openid FROM users'), 'chat_relay SELECT users.openid');
    });

    test('chat_relay: chat_sessions_ended names the given sessions that ended, chat_dba may not call it', () => {
      const r = as('chat_relay', `SELECT * FROM chat_sessions_ended(ARRAY['sess-priv-1', 'sess-priv-2', 'no-such-session'])
                                  ORDER BY 1`);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.rows, [['no-such-session']]);
      owner(`UPDATE sessions SET revoked_at = now() WHERE id = 'sess-priv-2'`);
      try {
        const after = as('chat_relay', `SELECT * FROM chat_sessions_ended(ARRAY['sess-priv-1', 'sess-priv-2'])`);
        assert.deepEqual(after.rows, [['sess-priv-2']]);
      } finally {
        owner(`UPDATE sessions SET revoked_at = NULL WHERE id = 'sess-priv-2'`);
      }
      assertDenied(as('chat_dba', `SELECT * FROM chat_sessions_ended(ARRAY['sess-priv-1'])`), 'chat_dba chat_sessions_ended');
    });

    test('chat_post_batch and chat_post_batch_compact run with their settings: generic plans, work_mem, a fixed search_path', () => {
      for (const fn of ['chat_post_batch', 'chat_post_batch_compact']) {
        const [[config]] = owner(`SELECT array_to_string(proconfig, ' ') FROM pg_proc WHERE proname = '${fn}'`);
        for (const want of ['plan_cache_mode=force_generic_plan', 'work_mem=32MB', 'search_path=public, pg_temp']) {
          assert.ok(config.includes(want), `${want} in ${fn}: ${config}`);
        }
      }
    });

    test('token keys compare byte by byte (COLLATE "C"), room names keep the database collation', () => {
      const rows = owner(`SELECT c.relname, a.attname, coalesce(k.collname, '')
                          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                          LEFT JOIN pg_collation k ON k.oid = a.attcollation
                          WHERE (c.relname, a.attname) IN (('users', 'openid'), ('sessions', 'id'),
                                 ('message_cids', 'cid'), ('messages', 'cid'), ('messages_default', 'cid'),
                                 ('rooms', 'name'))
                          ORDER BY 1, 2`);
      assert.deepEqual(rows, [['message_cids', 'cid', 'C'], ['messages', 'cid', 'C'],
        ['messages_default', 'cid', 'C'], ['rooms', 'name', 'default'], ['sessions', 'id', 'C'],
        ['users', 'openid', 'C']]);
    });

    test('chat_dba: reads chat_history and public user columns', () => {
      const r = as('chat_dba', `SELECT room, id, sender_nickname, kind, content FROM chat_history
                                WHERE content = 'hello from the privilege test';
                                SELECT count(*) > 0 FROM chat_partitions;
                                SELECT nickname FROM users WHERE nickname = 'Priv One';
                                SELECT count(*) FROM rooms WHERE name = 'lobby';`);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.rows, [['lobby', '1', 'Priv One', 'text', 'hello from the privilege test'], ['t'], ['Priv One'], ['1']]);
    });

    test('chat_dba: no secrets (sessions, skey hashes, session keys, openid)', () => {
      assertDenied(as('chat_dba', 'SELECT count(*) FROM sessions'), 'chat_dba SELECT sessions');
      assertDenied(as('chat_dba', 'SELECT wx_session_key FROM sessions'), 'chat_dba SELECT wx_session_key');
      assertDenied(as('chat_dba', 'SELECT openid FROM users'), 'chat_dba SELECT openid');
      assertDenied(as('chat_dba', 'SELECT * FROM users'), 'chat_dba SELECT * FROM users');
      assertDenied(as('chat_dba', `SELECT * FROM chat_session_lookup(sha256('skey-priv-1'))`), 'chat_dba chat_session_lookup');
      assertDenied(as('chat_dba', 'SELECT count(*) FROM message_cids'), 'chat_dba SELECT message_cids');
      // Catalog check over every column of sessions and the private ones of users.
      assert.deepEqual(owner(`SELECT count(*) FROM information_schema.columns
        WHERE table_schema = 'public' AND (table_name = 'sessions' OR (table_name = 'users' AND column_name IN ('openid', 'unionid')))
          AND has_column_privilege('chat_dba', quote_ident(table_name), column_name, 'SELECT')`), [['0']]);
    });

    test('chat_dba cannot write anything, even in a read-write transaction', () => {
      const rw = 'SET default_transaction_read_only = off;\n';
      assertDenied(as('chat_dba', `${rw}INSERT INTO messages (room_id, kind, content) VALUES (1, 'text', 'x')`), 'INSERT messages');
      assertDenied(as('chat_dba', `${rw}UPDATE messages SET content = 'x'`), 'UPDATE messages');
      assertDenied(as('chat_dba', `${rw}DELETE FROM messages`), 'DELETE messages');
      assertDenied(as('chat_dba', `${rw}UPDATE rooms SET last_seq = 0`), 'UPDATE rooms');
      assertDenied(as('chat_dba', `${rw}INSERT INTO rooms (name) VALUES ('dba')`), 'INSERT rooms');
      assertDenied(as('chat_dba', `${rw}UPDATE users SET nickname = 'x'`), 'UPDATE users');
      assertDenied(as('chat_dba', `${rw}DELETE FROM sessions`), 'DELETE sessions');
      assertDenied(as('chat_dba', `${rw}TRUNCATE messages`), 'TRUNCATE messages');
      assertDenied(as('chat_dba', `${rw}CREATE TABLE dba_table (x int)`), 'CREATE TABLE');
      assertDenied(as('chat_dba', `${rw}SELECT chat_drop_partitions('0')`), 'chat_drop_partitions');
      assertDenied(as('chat_dba', `${rw}SELECT chat_create_partitions(1)`), 'chat_create_partitions');
      assertDenied(as('chat_dba', `${rw}SELECT * FROM chat_post_batch_compact('{1}', '{1}', '{text}', '{x}', '{NULL}', '{}')`),
        'chat_post_batch_compact');
      assertDenied(as('chat_dba', `${rw}SELECT chat_cleanup_sessions('0')`), 'chat_cleanup_sessions');
      // And no write privilege on any table, view or partition in the catalog.
      const writable = owner(`SELECT string_agg(c.oid::regclass::text, ', ') FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND (has_table_privilege('chat_dba', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
               OR has_any_column_privilege('chat_dba', c.oid, 'INSERT, UPDATE'))`);
      assert.deepEqual(writable, [[null]], `writable by chat_dba: ${writable}`);
      // The message is still there.
      assert.deepEqual(owner(`SELECT count(*) FROM messages`), [['1']]);
    });

    test('chat_login cannot touch messages', () => {
      assertDenied(as('chat_login', 'SELECT count(*) FROM messages'), 'chat_login SELECT messages');
      assertDenied(as('chat_login', `INSERT INTO messages (room_id, kind, content) VALUES (1, 'text', 'x')`), 'chat_login INSERT messages');
      assertDenied(as('chat_login', 'DELETE FROM messages'), 'chat_login DELETE messages');
      assertDenied(as('chat_login', 'SELECT count(*) FROM chat_history'), 'chat_login SELECT chat_history');
    });
  });

  describe('session cleanup', () => {
    before(() => {
      owner(`INSERT INTO users (openid, nickname) VALUES ('openid-clean', 'Cleaner');
             INSERT INTO sessions (id, skey_hash, user_id, wx_session_key, expires_at, revoked_at)
             SELECT s.id, sha256(s.id::bytea), u.id, 'k', now() + s.expires, now() + s.revoked
             FROM users u, (VALUES ('clean-active',        interval '1 day',    NULL::interval),
                                   ('clean-expired-2d',    interval '-2 days',  NULL),
                                   ('clean-expired-1h',    interval '-1 hour',  NULL),
                                   ('clean-revoked-3d',    interval '1 day',    interval '-3 days'),
                                   ('clean-revoked-10min', interval '1 day',    interval '-10 minutes')) s (id, expires, revoked)
             WHERE u.openid = 'openid-clean';`);
    });
    const left = () => owner(`SELECT id FROM sessions WHERE id LIKE 'clean-%' ORDER BY id`).map((r) => r[0]);

    test('tools/maintenance.sh deletes sessions expired or revoked more than SESSION_GRACE ago', () => {
      // The privilege test's sessions are current: only the two old ones go.
      const r = spawnSync(path.join(ROOT, 'tools', 'maintenance.sh'), [], {
        encoding: 'utf8', env: Object.assign({}, process.env, { DATABASE_URL: urlFor(DB), SESSION_GRACE: '1 day' }),
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^maintenance: \S+ partitions_created=0 partitions_removed=0 sessions_deleted=2 retention=none$/m);
      assert.deepEqual(left(), ['clean-active', 'clean-expired-1h', 'clean-revoked-10min']);
    });

    test('chat_cleanup_sessions(grace) returns the count; a session in use is kept', () => {
      assert.deepEqual(owner(`SELECT chat_cleanup_sessions('1 day')`), [['0']]);
      assert.deepEqual(owner(`SELECT chat_cleanup_sessions('0')`), [['2']]);
      assert.deepEqual(left(), ['clean-active']);
      assert.deepEqual(owner(`SELECT count(*) FROM sessions WHERE id LIKE 'sess-priv-%'`), [['2']]);
      const neg = psqlRun(urlFor(DB), `SELECT chat_cleanup_sessions('-1 day')`);
      assert.notEqual(neg.status, 0);
      assert.match(neg.stderr, /grace must not be negative/);
    });
  });
});

describe('make psql (tools/psql.sh)', () => {
  const psqlSh = path.join(ROOT, 'tools', 'psql.sh');
  const runPsqlSh = (stackDir, input) => spawnSync(psqlSh, [], {
    input, encoding: 'utf8', env: Object.assign({}, process.env, { STACK_DIR: stackDir }),
  });

  test('reads SQL from a pipe and runs it as chat_dba on the stack\'s database', () => {
    const r = runPsqlSh(process.env.STACK_DIR, `\\set QUIET on\n\\pset tuples_only on\n\\pset format unaligned
SELECT current_user, current_database();
SELECT count(*) >= 0 FROM chat_history;\n`);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['chat_dba|chat', 't']);
  });

  test('stops at the first error with a non-zero status (a write is refused)', () => {
    const r = runPsqlSh(process.env.STACK_DIR, `INSERT INTO rooms (name) VALUES ('psql_sh_write');\nSELECT 'not reached';\n`);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /read-only transaction|permission denied/);
    assert.doesNotMatch(r.stdout, /not reached/);
  });

  test('says clearly when make run is not running', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'psql-sh-test-'));
    try {
      let r = runPsqlSh(dir, 'SELECT 1;\n');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^psql: no .*\/env: start the system first with 'make run'/);
      // An env whose database does not answer (a port nobody listens on).
      const text = fs.readFileSync(path.join(process.env.STACK_DIR, 'env'), 'utf8')
        .replace(/port=\d+/g, 'port=1').replace(/PG_PORT='\d+'/, "PG_PORT='1'");
      fs.writeFileSync(path.join(dir, 'env'), text);
      r = runPsqlSh(dir, 'SELECT 1;\n');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /does not answer.*is 'make run' running\?/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
