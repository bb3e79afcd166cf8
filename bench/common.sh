# Shared by run.sh and smoke.sh: build, start chatroom or the floor, clean up.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# BENCH_BIN: a directory holding chatroom, loadgen and floor already built
# (then nothing is built).
bin="${BENCH_BIN:-$root/target/release}"
work="$(mktemp -d)"
pids=()
bench_db=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
  if [ -n "$bench_db" ]; then
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $bench_db" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# Server on core 0, load generator on core 1 (when there are two).
server_cpu="taskset -c 0"
load_cpu="taskset -c 1"
if ! command -v taskset >/dev/null 2>&1 || [ "$(nproc)" -lt 2 ]; then
  server_cpu=""
  load_cpu=""
fi

build() {
  if [ -n "${BENCH_BIN:-}" ]; then return 0; fi
  (cd "$root" && cargo build --release --quiet -p chatroom -p chatroom-bench)
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_up() {
  for _ in $(seq 1 200); do curl -fsS "$1/healthz" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "server at $1 did not come up" >&2
  return 1
}

# start_chatroom USERS → sets CHATROOM_BASE, CHATROOM_PID, COOKIES
# BENCH_POSTGRES=1: on a fresh PostgreSQL database (127.0.0.1:5432, user
# postgres), dropped afterwards; otherwise SQLite in a temporary directory.
# Each call starts on a fresh database (stop_chatroom the previous one first).
start_chatroom() {
  local users="$1" port
  port="$(free_port)"
  rm -rf "$work/chatroom"
  mkdir -p "$work/chatroom"
  if [ "${BENCH_POSTGRES:-0}" = 1 ]; then
    if [ -n "$bench_db" ]; then
      psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $bench_db" >/dev/null
    fi
    bench_db="chatroom_bench_$$"
    psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $bench_db" >/dev/null
    export CHATROOM_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$bench_db"
  fi
  (cd "$work/chatroom" && "$bin/chatroom" seed-users --count "$users" --prefix bench \
      --password "correct horse battery staple" --sessions-out "$work/cookies.tsv" >/dev/null)
  (cd "$work/chatroom" && CHATROOM_BIND="127.0.0.1:$port" CHATROOM_CHAT_RATE=100000 \
      CHATROOM_LOGIN_LIMIT=1000000 CHATROOM_MAX_CONNECTIONS_PER_IP=1000000 RUST_LOG=warn \
      exec $server_cpu "$bin/chatroom") &
  CHATROOM_PID=$!
  pids+=("$CHATROOM_PID")
  CHATROOM_BASE="http://127.0.0.1:$port"
  COOKIES="$work/cookies.tsv"
  wait_up "$CHATROOM_BASE"
}

stop_chatroom() {
  kill "$CHATROOM_PID" 2>/dev/null || true
  wait "$CHATROOM_PID" 2>/dev/null || true
}

# start_floor → sets FLOOR_BASE, FLOOR_PID
start_floor() {
  local port
  port="$(free_port)"
  $server_cpu "$bin/floor" --bind "127.0.0.1:$port" >/dev/null &
  FLOOR_PID=$!
  pids+=("$FLOOR_PID")
  FLOOR_BASE="http://127.0.0.1:$port"
  for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

stop_floor() {
  kill "$FLOOR_PID" 2>/dev/null || true
  wait "$FLOOR_PID" 2>/dev/null || true
}

loadgen() {
  $load_cpu "$bin/loadgen" "$@"
}
