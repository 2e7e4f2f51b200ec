#!/usr/bin/env bash
# Run the whole test suite on SQLite, then on a throwaway PostgreSQL (started and stopped here).
# Extra arguments go to pytest, e.g. scripts/test.sh -k bridge
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST="${PYTEST:-.venv/bin/pytest}"

echo "== tests on SQLite =="
env -u TEST_DATABASE_URL "$PYTEST" -q "$@"

echo "== tests on PostgreSQL =="
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  "$PYTEST" -q "$@"
else
  url=$(scripts/pg-test-server.sh start)
  trap 'scripts/pg-test-server.sh stop' EXIT
  TEST_DATABASE_URL="$url" "$PYTEST" -q "$@"
fi
