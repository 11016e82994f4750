#!/usr/bin/env bash
# psql.sh -- `make psql`: psql on the database of `make run`, as the
# read-only role chat_dba (see docs/database.md and sql/README.md).
#
#   make psql                          interactive
#   echo 'SELECT ...' | make psql      reads SQL from standard input, stops
#                                      at the first error (exit status 3)
#   tools/psql.sh [psql options...]    e.g. -c 'SELECT ...' or -f file.sql
#
# Reads the connection from var/env (written by tools/stack.sh run), or from
# $STACK_DIR/env when STACK_DIR is set (a stack started with
# `tools/stack.sh start DIR`). Fails with a clear message when that stack is
# not running. The session runs as chat_dba even when the stack uses an
# external DATABASE_URL (SET ROLE through PGOPTIONS; the URL's role must be
# a member of chat_dba or a superuser).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${STACK_DIR:-$ROOT/var}

die() { echo "psql: $*" >&2; exit 1; }

[ -f "$DIR/env" ] || die "no $DIR/env: start the system first with 'make run' (in another terminal)"
# shellcheck disable=SC1091
. "$DIR/env"
[ -n "${DBA_DATABASE_URL:-}" ] || die "$DIR/env names no DBA_DATABASE_URL: restart 'make run'"

# Is that database up? (pg_isready does not need a role or a password.)
if ! pg_isready -q -d "$DBA_DATABASE_URL" -t 3 2>/dev/null; then
    die "the database of 'make run' does not answer (${PG_SOCKET_DIR:+socket $PG_SOCKET_DIR, port $PG_PORT}): is 'make run' running?"
fi

export PGOPTIONS="${PGOPTIONS:-} -c role=chat_dba -c default_transaction_read_only=on"
export PGAPPNAME=${PGAPPNAME:-make-psql}
if [ -t 0 ]; then
    exec psql "$DBA_DATABASE_URL" "$@"
fi
# Standard input is a pipe or a file: no psqlrc, stop at the first error.
exec psql "$DBA_DATABASE_URL" -X -v ON_ERROR_STOP=1 "$@"
