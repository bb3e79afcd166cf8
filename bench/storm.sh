#!/usr/bin/env bash
# Reconnect storm: PEOPLE × SOCKETS sockets (default 1,000 × 10) in the
# global room, RATE messages/s (20) for SECS seconds (30); every socket
# drops itself at a random moment in every DROP_EVERY seconds (15),
# reconnects after 200 ms and catches up with `history {after}`. Prints one
# JSON line per server run: deliveries not caught up 5 s after the last
# send, drop → caught-up and live p50/p99, reconnects, server CPU (% of its
# core and µs per reconnect), and how many slow pool acquisitions the
# server logged.
#   bash bench/storm.sh
#   SMALL=1 bash bench/storm.sh        # 50 × 10 sockets, 20 s; fails on loss or a slow catch-up (CI)
#   OLD=/tmp/chatroom-before ROUNDS=2 bash bench/storm.sh   # old and new build, alternating, one run
#   PERF=/tmp/storm.perf bash bench/storm.sh  # also `perf record -g` the server during the storm
#   BENCH_POSTGRES=1 bash bench/storm.sh      # on a fresh PostgreSQL database
source "$(dirname "$0")/common.sh"
if [ "${SMALL:-0}" = 1 ]; then
  PEOPLE="${PEOPLE:-50}"
  SECS="${SECS:-20}"
  CHECK=(--check-catch-up-ms "${CHECK_CATCH_UP_MS:-3000}")
else
  CHECK=()
fi
PEOPLE="${PEOPLE:-1000}"
SOCKETS="${SOCKETS:-10}"
RATE="${RATE:-20}"
SECS="${SECS:-30}"
DROP_EVERY="${DROP_EVERY:-15}"
ROUNDS="${ROUNDS:-1}"
NEW="${NEW:-$bin/chatroom}"
build

# storm_once EXE LABEL
storm_once() {
  local exe="$1" label="$2" port dir pid log db
  port="$(free_port)"
  dir="$(mktemp -d -p "$work")"
  log="$dir/server.log"
  if [ "${BENCH_POSTGRES:-0}" = 1 ]; then
    db="chatroom_storm_$$"
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -qc "CREATE DATABASE $db" >/dev/null
    export CHATROOM_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
  fi
  (cd "$dir" && "$exe" seed-users --count "$PEOPLE" --prefix bench \
      --password "correct horse battery staple" --sessions-out "$dir/cookies.tsv" >/dev/null)
  (cd "$dir" && exec env CHATROOM_BIND="127.0.0.1:$port" CHATROOM_CHAT_RATE=100000 \
      CHATROOM_LOGIN_LIMIT=1000000 CHATROOM_MAX_CONNECTIONS_PER_IP=1000000 RUST_LOG=warn \
      $server_cpu "$exe" 2>"$log" >/dev/null) &
  pid=$!
  pids+=("$pid")
  wait_up "http://127.0.0.1:$port"
  local perf_pid=""
  if [ -n "${PERF:-}" ]; then
    # From when every socket is connected (a few seconds in) to the end.
    (sleep "${PERF_DELAY:-8}" && exec perf record -g -F 499 -o "$PERF.$label" -p "$pid" \
        -- sleep "$SECS") >/dev/null 2>&1 &
    perf_pid=$!
  fi
  loadgen --label "$label" --base "http://127.0.0.1:$port" --cookies "$dir/cookies.tsv" storm \
      --people "$PEOPLE" --sockets "$SOCKETS" --rate "$RATE" --secs "$SECS" \
      --drop-every-secs "$DROP_EVERY" --server-pid "$pid" "${CHECK[@]}" >"$dir/result.json" || {
    cat "$dir/result.json"
    tail -n 20 "$log" >&2
    return 1
  }
  if [ -n "$perf_pid" ]; then wait "$perf_pid" 2>/dev/null || true; fi
  local slow
  slow="$(grep -c 'acquired_after_secs' "$log" || true)"
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["server_slow_pool_acquires"] = int(sys.argv[2])
print(json.dumps(d))' "$dir/result.json" "$slow"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "${BENCH_POSTGRES:-0}" = 1 ]; then
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" >/dev/null
  fi
}

for round in $(seq 1 "$ROUNDS"); do
  if [ -n "${OLD:-}" ]; then storm_once "$OLD" old; fi
  storm_once "$NEW" "$([ -n "${OLD:-}" ] && echo new || echo chatroom)"
done
