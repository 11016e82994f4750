// relay_prepared.test.js -- the relay prepares its statements on each of its
// database connections (relay/store.c), on a scratch database of its own:
// started before the migrations, it reports itself unhealthy, keeps
// retrying and serves once they have run; when a migration changes the
// columns a prepared statement returns, the relay prepares its statements
// again by itself, so at most the open that met the change is refused.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { ROOT, env } = require('../lib/harness');
const { urlFor, psql } = require('../lib/scratch-db');
const { startRelay, healthz } = require('../lib/relay-proc');
const { ChatClient, closeAll, uniqueRoom, sleep } = require('../lib/chat-client');
const { waitStatus } = require('../lib/steady-client');

const DB = `chat_prep_${process.pid}`;
const admin = (script) => psql(env.ADMIN_DATABASE_URL, script);
const owner = (script, vars) => psql(urlFor(DB), script, vars);

function migrate() {
  const m = spawnSync(path.join(ROOT, 'sql', 'migrate.sh'), [], {
    encoding: 'utf8', env: Object.assign({}, process.env, { DATABASE_URL: urlFor(DB) }),
  });
  assert.equal(m.status, 0, m.stderr);
}

// A user with a live session in the scratch database: {id, skey}.
function scratchSession() {
  const tag = crypto.randomBytes(6).toString('hex');
  const id = crypto.randomBytes(16).toString('hex');
  const skey = crypto.randomBytes(24).toString('base64url');
  owner(`WITH u AS (INSERT INTO users (openid, nickname) VALUES (:'openid', :'nick') RETURNING id)
         INSERT INTO sessions (id, skey_hash, user_id, wx_session_key, expires_at)
         SELECT :'id', sha256(convert_to(:'skey', 'UTF8')), u.id, 'k', now() + interval '1 hour' FROM u`,
  { openid: `prep-${tag}`, nick: `prep ${tag}`, id, skey });
  return { id, skey };
}

// True once the relay's /healthz answers 200 within timeout ms.
const healthy = async (port, timeout) =>
  (await waitStatus(`http://127.0.0.1:${port}/healthz`, 200, timeout)) === 200;

describe('prepared statements of the relay (scratch database)', () => {
  let relay;
  before(() => {
    admin(`DROP DATABASE IF EXISTS ${DB}`);
    admin(`CREATE DATABASE ${DB}`);
  });
  after(async () => {
    if (relay) await relay.stop();
    admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  });

  test('started before the migrations: unhealthy and retrying, then serving once they ran', async () => {
    relay = await startRelay({ DATABASE_URL: urlFor(DB, 'chat_relay') }, { ready: false });
    await sleep(1500);
    assert.equal(await healthz(relay.port), 503, '/healthz while the statements cannot be prepared');
    const log = fs.readFileSync(relay.log, 'utf8');
    assert.match(log, /preparing relay_\w+ failed: ERROR: +function chat_\w+\(.*\) does not exist/);
    const attempts = (log.match(/query connection lost: a statement could not be prepared/g) || []).length;
    assert.ok(attempts >= 2 && attempts <= 6, `${attempts} attempts in 1.5 s: retried with backoff`);

    migrate();
    assert.ok(await healthy(relay.port, 15000), 'healthy within the longest backoff after the migrations');
    const room = uniqueRoom('prep');
    const a = await ChatClient.join(scratchSession(), { room, via: { port: relay.port }, label: 'A' });
    const m = await a.say('after the migrations');
    assert.deepEqual([m.type, m.id], ['user', 1]);
    closeAll(a);
  });

  test('a migration changes the columns chat_room_join returns: prepared again, opens work again', async () => {
    assert.ok(relay, 'the relay of the first test');
    const room = uniqueRoom('prep');
    const before = await ChatClient.join(scratchSession(), { room, via: { port: relay.port }, label: 'before' });
    closeAll(before);
    // The same function with one more result column, as a migration would.
    owner(`ALTER FUNCTION chat_room_join(text, bigint, bigint, bigint) RENAME TO chat_room_join_v1;
           CREATE FUNCTION chat_room_join(p_name text, p_since bigint, p_history bigint, p_limit bigint)
           RETURNS TABLE (room_id bigint, last_seq bigint, epoch text, seq bigint, user_id bigint,
                          nickname text, avatar_url text, kind text, content text, cid text,
                          time_ms bigint, extra int)
           LANGUAGE sql AS $$ SELECT *, 1 FROM chat_room_join_v1(p_name, p_since, p_history, p_limit) $$;
           GRANT EXECUTE ON FUNCTION chat_room_join(text, bigint, bigint, bigint) TO chat_relay;`);
    // The relay drops the connection in the same loop turn as it refuses,
    // so after a refusal /healthz says when the statements are back.
    const refused = [];
    let joined = null;
    for (let i = 0; i < 5 && !joined; i++) {
      try {
        joined = await ChatClient.join(scratchSession(), { room, via: { port: relay.port }, label: `after${i}` });
      } catch (e) {
        refused.push(e.message);
        assert.ok(await healthy(relay.port, 15000), 'healthy again after the refusal');
      }
    }
    assert.ok(joined, `an open succeeds again; refused: ${refused.join(' | ')}`);
    assert.ok(refused.length <= 1, `at most the open that met the change is refused: ${refused.join(' | ')}`);
    assert.ok(refused.every((m) => /ERR_UNAVAILABLE/.test(m)), `refused as unavailable: ${refused.join(' | ')}`);
    assert.equal(joined.system.room, room);
    const m = await joined.say('after the change');
    assert.equal(m.type, 'user');
    closeAll(joined);
    assert.match(fs.readFileSync(relay.log, 'utf8'), /no longer matches the schema; preparing again/);
  });
});
