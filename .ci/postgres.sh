#!/usr/bin/env bash
# Start a throwaway local PostgreSQL on 127.0.0.1 for the store contract suite; print its URI on stdout.
# Exits non-zero (and the suite skips PostgreSQL) when it can't be installed or started here.
set -euo pipefail
{
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) || exit 1
  fi
  ver="$(ls /usr/lib/postgresql | sort -V | tail -1)"
  pg_lsclusters -h 2>/dev/null | grep -q "^$ver main" || pg_createcluster "$ver" main
  pg_ctlcluster "$ver" main start 2>/dev/null || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -q && break; sleep 1; done
  su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres';\""
  su postgres -c "dropdb --if-exists tracklet_test" && su postgres -c "createdb tracklet_test"
  su postgres -c "psql -q -c 'ALTER DATABASE tracklet_test SET synchronous_commit = off'"
} >&2
python -m pip install -q -c "$(dirname "$0")/constraints.txt" psycopg2-binary >&2
echo "postgresql://postgres:postgres@127.0.0.1:5432/tracklet_test"
