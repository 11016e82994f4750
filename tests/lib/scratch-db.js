// scratch-db.js -- psql against any database of the test cluster, for the
// tests that create a scratch database of their own (sql_*.test.js): URLs
// for another database or role, psql with variables whose rows come back
// as arrays of strings (NULL as null; times print in UTC, ISO style), and a
// migrated scratch database made and dropped.
'use strict';

const path = require('path');
const { spawnSync } = require('child_process');
const { ROOT, env } = require('./harness');

// env.ADMIN_DATABASE_URL with another database and/or role.
function urlFor(db, user) {
  let url = env.ADMIN_DATABASE_URL.replace(/^(postgresql:\/\/[^/?]*\/)[^?]*/, `$1${db}`);
  if (user) url = /[?&]user=/.test(url) ? url.replace(/([?&]user=)[^&]*/, `$1${user}`) : `${url}&user=${user}`;
  return url;
}

// psql on `url`: {status, rows, stderr}; psql variables (:'name') carry values.
function psqlRun(url, script, vars = {}) {
  const args = [url, '-X', '-q', '-tA', '-F', '\x1f', '-P', 'null=\x1e', '-v', 'ON_ERROR_STOP=1'];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  const r = spawnSync('psql', args, {
    input: script, encoding: 'utf8', maxBuffer: 256 << 20,
    env: Object.assign({}, process.env, { PGTZ: 'UTC', PGDATESTYLE: 'ISO', PGCLIENTENCODING: 'UTF8' }),
  });
  const rows = (r.stdout || '').split('\n').filter((l) => l !== '')
    .map((l) => l.split('\x1f').map((c) => (c === '\x1e' ? null : c)));
  return { status: r.status, rows, stderr: r.stderr };
}

// psql on `url`, throwing with psql's message when it fails; returns rows.
function psql(url, script, vars) {
  const r = psqlRun(url, script, vars);
  if (r.status !== 0) throw new Error(`psql failed (${r.status}): ${r.stderr}`);
  return r.rows;
}

// A new database `db` (dropped first if a run before left it), migrated by
// sql/migrate.sh; throws with migrate.sh's messages when that fails.
function createMigratedDb(db) {
  psql(env.ADMIN_DATABASE_URL, `DROP DATABASE IF EXISTS ${db}`);
  psql(env.ADMIN_DATABASE_URL, `CREATE DATABASE ${db}`);
  const m = spawnSync(path.join(ROOT, 'sql', 'migrate.sh'), [], {
    encoding: 'utf8', env: Object.assign({}, process.env, { DATABASE_URL: urlFor(db) }),
  });
  if (m.status !== 0) throw new Error(`migrate.sh failed (${m.status}): ${m.stderr}`);
}

// Drop `db`, closing its sessions.
function dropDb(db) {
  psql(env.ADMIN_DATABASE_URL, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
}

module.exports = { urlFor, psqlRun, psql, createMigratedDb, dropDb };
