#!/usr/bin/env bash
# Two chatroom builds, same machine, same run: ingest (50 senders) and
# fan-out (1,000 listeners × 100 msg/s), ROUNDS times, alternating.
#   OLD=/path/to/old/chatroom NEW=target/release/chatroom bash bench/compare.sh
# Build an older commit with e.g.
#   git worktree add /tmp/old <rev> && (cd /tmp/old && CARGO_TARGET_DIR=/tmp/old-target cargo build --release -p chatroom)
# BENCH_POSTGRES=1: each server on a fresh PostgreSQL database instead of SQLite.
# OLD_ENV / NEW_ENV: settings for one side only, e.g. the same binary twice with
#   OLD=target/release/chatroom OLD_ENV="CHATROOM_SQLITE_SYNCHRONOUS=normal" bash bench/compare.sh
source "$(dirname "$0")/common.sh"
OLD="${OLD:?set OLD to the older chatroom binary}"
NEW="${NEW:-$bin/chatroom}"
SECS="${SECS:-10}"
ROUNDS="${ROUNDS:-2}"
build

summary() {
  python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
if d["scenario"] == "ingest":
    print("  ingest: %.0f acked/s, ack p99 %s ms" % (d["acked_per_sec"], d["ack_latency"]["p99_ms"]))
else:
    print("  fanout: lost %s, p99 %s ms" % (d["lost"], d["latency"]["p99_ms"]))'
}

for round in $(seq 1 "$ROUNDS"); do
  for side in old new; do
    if [ "$side" = old ]; then exe="$OLD"; side_env="${OLD_ENV:-}"; else exe="$NEW"; side_env="${NEW_ENV:-}"; fi
    port="$(free_port)"
    dir="$(mktemp -d -p "$work")"
    if [ "${BENCH_POSTGRES:-0}" = 1 ]; then
      db="chatroom_compare_$$"
      psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -qc "CREATE DATABASE $db" >/dev/null
      export CHATROOM_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
    fi
    (cd "$dir" && "$exe" seed-users --count 1010 --prefix bench \
        --password "correct horse battery staple" --sessions-out "$dir/cookies.tsv" >/dev/null)
    # shellcheck disable=SC2086 # side_env is a list of VAR=value words
    (cd "$dir" && exec env $side_env CHATROOM_BIND="127.0.0.1:$port" CHATROOM_CHAT_RATE=100000 \
        CHATROOM_LOGIN_LIMIT=1000000 CHATROOM_MAX_CONNECTIONS_PER_IP=1000000 RUST_LOG=error \
        $server_cpu "$exe") &
    pid=$!
    pids+=("$pid")
    wait_up "http://127.0.0.1:$port"
    echo "round $round: $exe ${side_env}"
    loadgen --base "http://127.0.0.1:$port" --cookies "$dir/cookies.tsv" ingest --senders 50 --secs "$SECS" | summary
    loadgen --base "http://127.0.0.1:$port" --cookies "$dir/cookies.tsv" fanout --listeners 1000 \
        --senders 10 --rate 100 --secs "$SECS" | summary
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
done
if [ "${BENCH_POSTGRES:-0}" = 1 ]; then
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS chatroom_compare_$$" >/dev/null
fi
