#!/usr/bin/env bash
# Cold start to healthy: a fresh data directory each time (the SQLite file is
# created and migrated), from exec to the first 200 from /healthz. Prints one
# JSON line with every run's milliseconds.
source "$(dirname "$0")/common.sh"
RUNS="${RUNS:-5}"
build
times=()
for _ in $(seq 1 "$RUNS"); do
  port="$(free_port)"
  dir="$(mktemp -d "$work/cold.XXXX")"
  start=$(date +%s%N)
  (cd "$dir" && CHATROOM_BIND="127.0.0.1:$port" RUST_LOG=warn exec "$bin/chatroom") &
  pid=$!
  until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.002; done
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000000 )))
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
size=$(stat -c %s "$bin/chatroom")
echo "{\"scenario\":\"cold_start\",\"runs_ms\":[$(IFS=,; echo "${times[*]}")],\"binary_bytes\":$size}"
