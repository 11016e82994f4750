// login_batch.test.js -- logins that arrive together, through nginx: the
// login service stores concurrent logins in shared statements (login-fcgi/
// login_group.c), and each one must still get its own session and its own
// user, the same user logging in from several devices at once must stay one
// user, and a login the database refuses must fail alone.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const { env, sql, http, wxCode, MAGIC } = require('../lib/harness');
const { userNamer } = require('../lib/fixtures');

const uname = userNamer();

// The login request of an issuance, in one of the wafer modes.
function loginRequest(iss, mode) {
  const h = { 'X-WX-Code': iss.code };
  if (mode === 'encrypted') Object.assign(h, { 'X-WX-Encrypted-Data': iss.encryptedData, 'X-WX-IV': iss.iv });
  if (mode === 'raw') Object.assign(h, { 'X-WX-Raw-Data': iss.rawData, 'X-WX-Signature': iss.signature });
  return () => http('GET', '/login', { headers: h });
}

const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A psql session that locks the users row of `openid` (FOR UPDATE) and
// keeps its transaction open for `seconds`, tagged application_name
// lock-holder; resolves once the lock is held. Returns {done} (a promise
// of the exit).
async function holdUserRow(openid, seconds) {
  const child = spawn('psql', [env.ADMIN_DATABASE_URL, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-v', `o=${openid}`],
    { env: { ...process.env, PGAPPNAME: 'lock-holder' }, stdio: ['pipe', 'ignore', 'inherit'] });
  const done = new Promise((resolve) => child.on('exit', resolve));
  child.stdin.end(`BEGIN;\nSELECT 1 FROM users WHERE openid = :'o' FOR UPDATE;\nSELECT pg_sleep(${seconds});\nCOMMIT;\n`);
  for (let i = 0; i < 100; i++) {
    const rows = sql(`SELECT count(*) FROM pg_stat_activity
                      WHERE application_name = 'lock-holder' AND state = 'active' AND query LIKE '%pg_sleep%'`);
    if (rows[0][0] === '1') return { done };
    await sleep(50);
  }
  child.kill();
  throw new Error('the lock holder did not start');
}

const holderInTransaction = () => sql(`SELECT count(*) FROM pg_stat_activity
  WHERE application_name = 'lock-holder' AND xact_start IS NOT NULL`)[0][0] === '1';

describe('logins that arrive together', { timeout: 120000 }, () => {
  it('each gets its own session; one user per openid, also from four devices at once', async () => {
    const MODES = ['encrypted', 'raw', 'code', 'placeholder'];
    const users = Array.from({ length: 12 }, () => uname('together'));
    const planned = [];
    for (const user of users) {
      for (const mode of MODES) {
        const iss = await wxCode(user, mode === 'placeholder' ? { placeholder: '1' } : {});
        planned.push({ user, mode, send: loginRequest(iss, mode === 'placeholder' ? 'encrypted' : mode) });
      }
    }
    const answers = await Promise.all(planned.map((p) => p.send()));

    const uidOf = new Map();
    for (const [i, res] of answers.entries()) {
      const { user, mode } = planned[i];
      assert.equal(res.status, 200, `${user} ${mode}: ${res.text}`);
      assert.equal(res.json[MAGIC], 1);
      const uid = res.json.userInfo.uid;
      if (!uidOf.has(user)) uidOf.set(user, uid);
      assert.equal(uid, uidOf.get(user), `${user}: every device gets the same uid`);
    }
    assert.equal(new Set(uidOf.values()).size, users.length, 'one uid per user');
    const ids = answers.map((r) => r.json.session.id);
    const skeys = answers.map((r) => r.json.session.skey);
    assert.equal(new Set(ids).size, answers.length, 'a session id per login');
    assert.equal(new Set(skeys).size, answers.length, 'an skey per login');

    for (const [i, res] of answers.entries()) {
      const rows = sql(`SELECT user_id, encode(skey_hash, 'hex') FROM sessions WHERE id = :'id'`,
        { id: res.json.session.id });
      assert.deepEqual(rows, [[String(res.json.userInfo.uid), sha256(skeys[i])]], `session of login ${i}`);
    }
    for (const user of users) {
      const uid = uidOf.get(user);
      // The real profile wins over the placeholder and over a code-only
      // login, whichever was stored first.
      assert.deepEqual(sql(`SELECT nickname, city FROM users WHERE id = :'uid'`, { uid }), [[user, 'Guangzhou']],
        `${user}: the real profile is stored`);
      assert.deepEqual(sql(`SELECT count(*) FROM sessions WHERE user_id = :'uid'`, { uid }), [['4']],
        `${user}: four sessions`);
    }
  });

  it('profiles travel through the array parameters verbatim: quotes, backslashes, braces, commas, NULL', async () => {
    const nicks = ['say "hi"', 'back\\slash', '{a,b}', 'NULL', ' spaced out ', '逗号，"引号"', 'tab\there', '\\"{,}"\\', '😀 emoji'];
    const issued = [];
    for (const nick of nicks) issued.push({ nick, iss: await wxCode(uname('quoted'), { nickName: nick }) });
    const answers = await Promise.all(issued.map(({ iss }) => loginRequest(iss, 'encrypted')()));
    for (const [i, res] of answers.entries()) {
      const { nick, iss } = issued[i];
      assert.equal(res.status, 200, `${JSON.stringify(nick)}: ${res.text}`);
      assert.equal(res.json.userInfo.nickName, nick, 'the answer has the nickname as sent');
      assert.deepEqual(sql(`SELECT nickname FROM users WHERE openid = :'o'`, { o: iss.openid }), [[nick]],
        `${JSON.stringify(nick)} stored verbatim`);
    }
  });

  it('a login the database refuses fails alone; the others in its batch are stored', async () => {
    const refusedUser = uname('refused');
    const slow = await wxCode(uname('slow'));
    const poisoned = await wxCode(refusedUser);
    const others = [];
    for (let i = 0; i < 23; i++) others.push(await wxCode(uname('beside')));
    // The slow user's row takes 300 ms to store, so that the logins sent
    // meanwhile queue up and are stored together; the poisoned user's row
    // is refused.
    sql(`CREATE FUNCTION test_login_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.openid = TG_ARGV[0] THEN PERFORM pg_sleep(0.3); RETURN NEW; END IF;
           RAISE EXCEPTION 'refused by the test';
         END $$;
         CREATE TRIGGER test_slow_login BEFORE INSERT OR UPDATE ON users FOR EACH ROW
           WHEN (NEW.openid = :'slow') EXECUTE FUNCTION test_login_trigger(:'slow');
         CREATE TRIGGER test_refuse_login BEFORE INSERT OR UPDATE ON users FOR EACH ROW
           WHEN (NEW.openid = :'bad') EXECUTE FUNCTION test_login_trigger(:'slow');`,
    { slow: slow.openid, bad: poisoned.openid });
    try {
      const first = loginRequest(slow, 'encrypted')();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const sends = [poisoned, ...others].map((iss) => loginRequest(iss, 'encrypted'));
      const [bad, ...good] = await Promise.all(sends.map((send) => send()));
      assert.equal((await first).status, 200);
      assert.equal(bad.status, 500, bad.text);
      assert.equal(bad.json.error, 'ERR_INTERNAL', bad.text);
      assert.equal(bad.json.session, undefined);
      assert.deepEqual(sql(`SELECT count(*) FROM users WHERE openid = :'o'`, { o: poisoned.openid }), [['0']]);
      for (const [i, res] of good.entries()) {
        assert.equal(res.status, 200, `login ${i} beside the refused one: ${res.text}`);
        assert.deepEqual(sql(`SELECT count(*) FROM sessions WHERE id = :'id'`, { id: res.json.session.id }), [['1']]);
      }
    } finally {
      sql(`DROP TRIGGER test_slow_login ON users; DROP TRIGGER test_refuse_login ON users;
           DROP FUNCTION test_login_trigger();`);
    }
    // Once the database accepts it again, the same user logs in.
    const again = await loginRequest(await wxCode(refusedUser), 'encrypted')();
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(sql(`SELECT count(*) FROM users WHERE openid = :'o'`, { o: poisoned.openid }), [['1']]);
  });

  it('a user row locked elsewhere fails that login only; the others are stored while the lock is held', async () => {
    const lockedUser = uname('locked');
    const first = await loginRequest(await wxCode(lockedUser), 'code')();
    assert.equal(first.status, 200, first.text);
    const locked = await wxCode(lockedUser);
    const others = [];
    for (let i = 0; i < 10; i++) others.push(await wxCode(uname('unlocked')));
    const holder = await holdUserRow(locked.openid, 8);
    try {
      const [mine, ...theirs] = await Promise.all([locked, ...others].map((iss) => loginRequest(iss, 'encrypted')()));
      // Everything below was answered while the other transaction still
      // held the row: nobody waited for it to end.
      assert.ok(holderInTransaction(), 'the logins were answered before the lock was released');
      assert.equal(mine.status, 500, mine.text);
      assert.equal(mine.json.error, 'ERR_INTERNAL');
      for (const [i, res] of theirs.entries()) assert.equal(res.status, 200, `login ${i}: ${res.text}`);
    } finally {
      await holder.done;
    }
    const again = await loginRequest(await wxCode(lockedUser), 'encrypted')();
    assert.equal(again.status, 200, again.text);
  });
});
