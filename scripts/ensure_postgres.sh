#!/bin/sh
# Make sure the test PostgreSQL on 127.0.0.1:5432 is up before `make test`.
# Quiet when it already is; starts the local cluster when it is installed but stopped.
# Not ready in the end: exit 1 under CI=true (postgres tests must not be skipped there),
# otherwise warn and exit 0 (the postgres tests will skip with a reason).
set -u

HOST=127.0.0.1
PORT=5432
WAIT_SECONDS=20

is_ready() {
    pg_isready -q -h "$HOST" -p "$PORT" >/dev/null 2>&1
}

give_up() {
    if [ "${CI:-}" = "true" ]; then
        echo "ERROR: PostgreSQL is not ready on $HOST:$PORT ($1); CI=true needs it for the postgres tests" >&2
        exit 1
    fi
    echo "warning: PostgreSQL is not ready on $HOST:$PORT ($1); the postgres tests will be skipped" >&2
    exit 0
}

command -v pg_isready >/dev/null 2>&1 || give_up "pg_isready not found"
is_ready && exit 0

[ -d /etc/postgresql ] || give_up "PostgreSQL is not installed"
# One installed major version is expected (e.g. /etc/postgresql/15).
version=$(ls /etc/postgresql | sort -V | tail -n 1)
[ -n "$version" ] || give_up "no cluster under /etc/postgresql"

echo "starting PostgreSQL $version (cluster main)" >&2
pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true

waited=0
while [ "$waited" -lt "$WAIT_SECONDS" ]; do
    is_ready && exit 0
    sleep 1
    waited=$((waited + 1))
done
give_up "still not ready after ${WAIT_SECONDS}s"
