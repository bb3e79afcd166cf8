#!/usr/bin/env bash
# Memory per idle authenticated socket on a server that has served logins
# first (Argon2id's work areas and the allocator's state are then what they
# are in production): LOGINS password logins, then CLIENTS (10,000) idle
# sockets held for 10 s; prints the `hold` JSON line (rss_per_socket_kib).
#   bash bench/memory.sh
#   OLD=/tmp/chatroom-before ROUNDS=2 bash bench/memory.sh   # two builds, alternating, one run
source "$(dirname "$0")/common.sh"
CLIENTS="${CLIENTS:-10000}"
LOGINS="${LOGINS:-200}"
ROUNDS="${ROUNDS:-1}"
NEW="${NEW:-$bin/chatroom}"
build

# memory_once EXE LABEL
memory_once() {
  local exe="$1" label="$2" port dir pid
  port="$(free_port)"
  dir="$(mktemp -d -p "$work")"
  (cd "$dir" && "$exe" seed-users --count 1000 --prefix bench \
      --password "correct horse battery staple" --sessions-out "$dir/cookies.tsv" >/dev/null)
  (cd "$dir" && exec env CHATROOM_BIND="127.0.0.1:$port" CHATROOM_CHAT_RATE=100000 \
      CHATROOM_LOGIN_LIMIT=1000000 CHATROOM_MAX_CONNECTIONS_PER_IP=1000000 RUST_LOG=error \
      $server_cpu "$exe" >/dev/null 2>&1) &
  pid=$!
  pids+=("$pid")
  wait_up "http://127.0.0.1:$port"
  loadgen --label "$label" --base "http://127.0.0.1:$port" --cookies "$dir/cookies.tsv" login \
      --count "$LOGINS" --password "correct horse battery staple" >/dev/null
  loadgen --label "$label" --base "http://127.0.0.1:$port" --cookies "$dir/cookies.tsv" hold \
      --clients "$CLIENTS" --secs 10 --server-pid "$pid"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

for round in $(seq 1 "$ROUNDS"); do
  if [ -n "${OLD:-}" ]; then memory_once "$OLD" old; fi
  memory_once "$NEW" "$([ -n "${OLD:-}" ] && echo new || echo chatroom)"
done
