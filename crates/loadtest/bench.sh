#!/usr/bin/env bash
# Measures faxrelay on this machine, in the embedded mode and on PostgreSQL + Redis:
# ingest throughput and latency, push-to-receipt latency at 200, 500 and 1,000 pushes/s,
# push-and-deliver throughput at saturation, and how fast a backlog drains. For reference,
# it also runs pgbench with the inserts one push makes.
#
# Needs PostgreSQL and Redis on their default local ports (as tests/run does) and pgbench.
# Usage: crates/loadtest/bench.sh [seconds per measurement, default 20]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-20}
PG=${FAXRELAY_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
export PGSSLMODE=disable

cargo build --release -q -p faxrelay -p faxrelay-loadtest
FAXRELAY=$PWD/target/release/faxrelay
LOAD=$PWD/target/release/faxrelay-loadtest
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

wait_ready() {
  for _ in $(seq 1 100); do curl -sf "$1/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "faxrelay did not become ready at $1" >&2; exit 1
}

# Before each measurement: let the previous one's aftermath (PostgreSQL writing out what
# a saturated run left dirty, SQLite checkpointing its WAL) finish, so that each figure is
# of its own load. Lighter loads go first for the same reason.
settle() {
  if [ -n "${SETTLE_DB:-}" ]; then psql "$SETTLE_DB" -qc "CHECKPOINT"; fi
  sleep 3
}

measure() { # name url
  local url=$2
  echo "=== $1"
  for rate in 200 500 1000; do
    settle; $LOAD relay --url "$url" --rate "$rate" --seconds "$SECONDS_EACH"
  done
  settle; $LOAD push --url "$url" --rate 500 --seconds "$SECONDS_EACH"
  settle; $LOAD push --url "$url" --concurrency 32 --seconds "$SECONDS_EACH"
  settle; $LOAD push --url "$url" --concurrency 64 --seconds "$SECONDS_EACH"
  settle; $LOAD relay --url "$url" --concurrency 32 --seconds "$SECONDS_EACH"
  settle; $LOAD drain --url "$url" --backlog 10000 --rate 100
}

echo "=== pgbench: one push's inserts (a report with its document and raw body, and its recipient), 32 clients"
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS faxrelay_bench_pgbench" -c "CREATE DATABASE faxrelay_bench_pgbench"
DATABASE_URL="$PG/faxrelay_bench_pgbench" FAXRELAY_SECRET_KEY=$(openssl rand -base64 32) $FAXRELAY migrate
psql "$PG/faxrelay_bench_pgbench" -qc "INSERT INTO tenants VALUES ('00000000-0000-7000-8000-000000000001', 'bench', 'basic', 'bench', 'SHA-256,MD5', now(), now())"
DOC=$(printf '{"job_id":"FJ","format":"json_rest","status":"delivered","pages":2,"reference":{"customer_defined_id":"load","billing_code":"BC-17","billing_info":"load test"},"recipients":[{"number":"+49 89 12345678","num_id":null,"status":"OK","category":"delivered","reason":"OK","sent_at":"2026-11-30T09:12:44Z","duration_secs":41,"sent_to_number":"00498912345678","remote_csid":"+49/89/1234567-8900","alternative_numbers":[],"properties":{"ToName":"Load Test Recipient","SubjectTitle":"Invoice"}}],"documents":[],"options":{},"extra":{}}')
cat > "$WORK/push.sql" <<SQL
\set n random(1, 2000000000)
BEGIN;
WITH r AS (
  INSERT INTO reports (id, tenant_id, job_id, dedupe_key, received_at, format, status, pages, customer_defined_id, recipient_count, document, raw_content_type, raw_body)
  VALUES (gen_random_uuid(), '00000000-0000-7000-8000-000000000001', 'FJ' || :n, md5(:n::text || random()::text), now(), 'json_rest', 'delivered', 2, 'load', 1, '$DOC'::jsonb, 'application/json', convert_to('$DOC', 'UTF8'))
  RETURNING id)
INSERT INTO report_recipients SELECT id, 0, '00000000-0000-7000-8000-000000000001', '498912345678', 'OK', 'delivered' FROM r;
END;
SQL
pgbench -n -c 32 -j 2 -T "$SECONDS_EACH" -f "$WORK/push.sql" "$PG/faxrelay_bench_pgbench" | grep -E "tps|latency average"
psql "$PG/postgres" -qc "DROP DATABASE faxrelay_bench_pgbench"

echo "=== embedded: SQLite + in-process queue"
mkdir -p "$WORK/embedded"
(cd "$WORK/embedded" && FAXRELAY_LISTEN=127.0.0.1:18181 FAXRELAY_LOG=warn FAXRELAY_ALLOW_PRIVATE_TARGETS=true exec "$FAXRELAY" serve >"$WORK/embedded.log" 2>&1) &
EMBEDDED=$!
wait_ready http://127.0.0.1:18181
measure embedded http://127.0.0.1:18181
kill "$EMBEDDED"; wait "$EMBEDDED" 2>/dev/null || true
sleep 1

echo "=== production: PostgreSQL + Redis"
# On loopback, without TLS, as pgbench above.
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS faxrelay_bench" -c "CREATE DATABASE faxrelay_bench"
DATABASE_URL="$PG/faxrelay_bench?sslmode=disable" REDIS_URL=redis://127.0.0.1:6379/0 FAXRELAY_REDIS_PREFIX="faxrelay-bench-$$" \
  FAXRELAY_SECRET_KEY=$(openssl rand -base64 32) FAXRELAY_LISTEN=127.0.0.1:18182 FAXRELAY_LOG=warn \
  FAXRELAY_ALLOW_PRIVATE_TARGETS=true "$FAXRELAY" serve >"$WORK/production.log" 2>&1 &
PRODUCTION=$!
wait_ready http://127.0.0.1:18182
SETTLE_DB="$PG/faxrelay_bench" measure production http://127.0.0.1:18182
kill "$PRODUCTION"; wait "$PRODUCTION" 2>/dev/null || true
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS faxrelay_bench WITH (FORCE)"
