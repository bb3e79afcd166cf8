#!/usr/bin/env bash
# Two chatroom instances on one PostgreSQL and one Redis, behind nginx, with
# `loadgen churn` through nginx while something is taken away:
#
#   bash bench/rolling.sh            # rolling restart: each instance in turn gets
#                                    # SIGTERM, exits, starts again on its port and
#                                    # answers /readyz 200, then the other
#   bash bench/rolling.sh redis      # Redis stopped, ~3 s (REDIS_DOWN), started again
#   bash bench/rolling.sh postgres   # PostgreSQL restarted (pg_ctl restart -m fast)
#   bash bench/rolling.sh rolling redis postgres   # all three, one after the other
#
# Nothing acknowledged may be lost (loadgen churn --check: exit 1 if it is);
# sends refused meanwhile are counted. For redis and postgres no chatroom
# process is restarted: both instances must answer /healthz 200 afterwards.
# Sizes: CLIENTS (1000) SENDERS (10) RATE (100 msg/s) SECS (60) DRAIN (2,
# CHATROOM_DRAIN_SECONDS) RECONNECT_MS (200) DROP_EVERY (unset: clients
# also drop themselves every N s). SMALL=1: 60 clients, 20 msg/s, 20 s.
#
# Everything is private and removed at exit: PostgreSQL is initdb'd into a
# temporary directory and run on a free loopback port with trust auth (as
# root, as the system user `benchpg`, created once if missing, because
# PostgreSQL refuses to run as root); redis-server on a free port without
# persistence; nginx in the foreground with its pid, logs and temporary
# files in a temporary directory. The machine's own PostgreSQL, Redis and
# nginx are not touched. KEEP=1 (or a failed run) keeps the logs and the
# load generator's per-client data and prints where.
source "$(dirname "$0")/common.sh"

MODES=("$@")
[ ${#MODES[@]} -gt 0 ] || MODES=(rolling)
if [ "${SMALL:-0}" = 1 ]; then
  CLIENTS="${CLIENTS:-60}" RATE="${RATE:-20}" SECS="${SECS:-20}" SENDERS="${SENDERS:-4}"
fi
CLIENTS="${CLIENTS:-1000}"
SENDERS="${SENDERS:-10}"
RATE="${RATE:-100}"
SECS="${SECS:-60}"
DRAIN="${DRAIN:-2}"
RECONNECT_MS="${RECONNECT_MS:-200}"
REDIS_DOWN="${REDIS_DOWN:-3}"
for mode in "${MODES[@]}"; do
  case "$mode" in rolling | redis | postgres) ;; *) echo "unknown mode: $mode (rolling, redis, postgres)" >&2; exit 2 ;; esac
done

pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
for tool in "$pg_bin/initdb" "$pg_bin/pg_ctl" /usr/sbin/nginx redis-server redis-cli psql curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "rolling.sh needs $tool" >&2; exit 2; }
done

build

ms_now() { date +%s%3N; }
secs_since() { awk -v a="$1" -v b="$(ms_now)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
failed=0
pgdir=""
ngx_pid=""
redis_pid=""
declare -A inst_pid inst_port

rolling_cleanup() {
  set +e
  [ -n "$ngx_pid" ] && kill "$ngx_pid" 2>/dev/null
  for name in "${!inst_pid[@]}"; do kill "${inst_pid[$name]}" 2>/dev/null; done
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null
  wait 2>/dev/null
  if [ -n "$pgdir" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1
  fi
  if [ "${KEEP:-0}" = 1 ] || [ "$failed" != 0 ]; then
    local kept
    kept="$(mktemp -d /tmp/chatroom-rolling.XXXXXX)"
    cp -r "$work"/*.log "$work"/*.json "$work"/events.* "$work/nginx/error.log" "$kept/" 2>/dev/null
    [ -n "$pgdir" ] && cp "$pgdir/postgres.log" "$kept/" 2>/dev/null
    echo "# logs and per-client data kept in $kept" >&2
  fi
  [ -n "$pgdir" ] && rm -rf "$pgdir"
  return 0
}
trap 'rolling_cleanup; cleanup' EXIT

# PostgreSQL refuses to run as root: as root, run it as `benchpg`.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    (cd "$pgdir" && runuser -u benchpg -- "$@")
  else
    (cd "$pgdir" && "$@")
  fi
}

# --- PostgreSQL -------------------------------------------------------------
pgdir="$(mktemp -d /tmp/chatroom-bench-pg.XXXXXX)"
if [ "$(id -u)" = 0 ]; then
  id benchpg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin benchpg
  chown benchpg "$pgdir"
fi
pg_port="$(free_port)"
pg_opts="-p $pg_port -k $pgdir -h 127.0.0.1"
as_pg "$pg_bin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
as_pg "$pg_bin/pg_ctl" -D "$pgdir/data" -o "$pg_opts" -l "$pgdir/postgres.log" -w start >/dev/null
psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE chatroom" >/dev/null
db_url="postgres://postgres@127.0.0.1:$pg_port/chatroom"

# --- Redis -------------------------------------------------------------------
redis_port="$(free_port)"
start_redis() {
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --logfile "$work/redis.log" &
  redis_pid=$!
  until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.02; done
}
stop_redis() {
  kill "$redis_pid"
  wait "$redis_pid" 2>/dev/null || true
  redis_pid=""
}
start_redis

# --- chatroom ----------------------------------------------------------------
nginx_port="$(free_port)"
start_instance() {
  local name="$1"
  mkdir -p "$work/$name"
  (cd "$work/$name" && exec env CHATROOM_BIND="127.0.0.1:${inst_port[$name]}" \
      CHATROOM_PUBLIC_URL="http://127.0.0.1:$nginx_port" \
      CHATROOM_DATABASE_URL="$db_url" \
      CHATROOM_REDIS_URL="redis://127.0.0.1:$redis_port" CHATROOM_REDIS_PREFIX="rolling$$:" \
      CHATROOM_CHAT_RATE=100000 CHATROOM_LOGIN_LIMIT=1000000 \
      CHATROOM_MAX_CONNECTIONS_PER_IP=1000000 CHATROOM_DRAIN_SECONDS="$DRAIN" \
      RUST_LOG="${RUST_LOG:-info}" "$bin/chatroom" >>"$work/$name.log" 2>&1) &
  inst_pid[$name]=$!
}
wait_ready() {
  local name="$1"
  for _ in $(seq 1 1000); do
    curl -fsS "http://127.0.0.1:${inst_port[$name]}/readyz" >/dev/null 2>&1 && return 0
    kill -0 "${inst_pid[$name]}" 2>/dev/null || { echo "instance $name exited" >&2; return 1; }
    sleep 0.02
  done
  echo "instance $name not ready" >&2
  return 1
}
inst_port[a]="$(free_port)"
inst_port[b]="$(free_port)"
(cd "$work" && CHATROOM_DATABASE_URL="$db_url" "$bin/chatroom" seed-users --count "$CLIENTS" \
    --prefix bench --password "correct horse battery staple" \
    --sessions-out "$work/cookies.tsv" >/dev/null 2>"$work/seed.log")
start_instance a
start_instance b
wait_ready a
wait_ready b

# --- nginx --------------------------------------------------------------------
# Its worker runs as `nobody` when started as root: the directories it may
# use must be reachable.
mkdir -p "$work/nginx"
chmod 711 "$work"
chmod 755 "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
worker_rlimit_nofile $(ulimit -n);
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    client_body_temp_path $work/nginx/client_body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;

    upstream chatroom {
        # Round-robin, not ip_hash as in docs/deploy.md: every bench client
        # comes from 127.0.0.1, so ip_hash would send them all to one
        # instance. The bench clients use the WebSocket transport only (one
        # request per session, no long-polling), which needs no stickiness.
        server 127.0.0.1:${inst_port[a]};
        server 127.0.0.1:${inst_port[b]};
    }

    server {
        listen 127.0.0.1:$nginx_port;
        client_max_body_size 6m;

        location /socket.io/ {
            proxy_pass http://chatroom;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host \$host;
            proxy_read_timeout 75s;
            # A stopped instance refuses connections: new ones go to the other.
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
            # Which instance took the connection (loadgen records it).
            add_header X-Upstream \$upstream_addr always;
        }

        location / {
            proxy_pass http://chatroom;
            proxy_http_version 1.1;
            proxy_set_header Host \$host;
            proxy_next_upstream error timeout;
        }
    }
}
EOF
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
ngx_pid=$!
for _ in $(seq 1 250); do
  curl -fsS "http://127.0.0.1:$nginx_port/healthz" >/dev/null 2>&1 && break
  sleep 0.02
done
curl -fsS "http://127.0.0.1:$nginx_port/healthz" >/dev/null

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F); loopback, nothing pinned"
echo "# nginx :$nginx_port -> a :${inst_port[a]}, b :${inst_port[b]}; PostgreSQL $("$pg_bin/postgres" --version | awk '{print $NF}') :$pg_port; $(redis-server --version | awk '{print $3}') :$redis_port"
echo "# clients $CLIENTS, senders $SENDERS, $RATE msg/s, $SECS s, drain $DRAIN s, reconnect after $RECONNECT_MS ms"

event() { echo "$(ms_now) $1" >>"$events"; }

# CPU ticks (user + system) of processes and their children.
cpu_ticks() {
  local total=0 pid stat rest
  for pid in "$@" $(for p in "$@"; do pgrep -P "$p"; done); do
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
    rest="${stat##*) }"
    # shellcheck disable=SC2086 # split the fields after the command name
    set -- $rest
    total=$(( total + ${12} + ${13} ))
  done
  echo "$total"
}

# Where the two cores go while sending steadily: for $1 seconds.
cpu_sample() {
  local secs="$1" pg_pid names=(loadgen nginx a b postgres redis) before=() after=() i line=""
  pg_pid="$(head -n 1 "$pgdir/data/postmaster.pid")"
  local groups=("$lg" "$ngx_pid" "${inst_pid[a]}" "${inst_pid[b]}" "$pg_pid" "$redis_pid")
  for i in "${!groups[@]}"; do before[$i]="$(cpu_ticks ${groups[$i]})"; done
  sleep "$secs"
  for i in "${!groups[@]}"; do after[$i]="$(cpu_ticks ${groups[$i]})"; done
  local hz; hz="$(getconf CLK_TCK)"
  for i in "${!groups[@]}"; do
    line+="${names[$i]} $(( (after[i] - before[i]) * 100 / hz / secs ))%, "
  done
  echo "# cpu while sending steadily (${secs} s, 100% = one core of $(nproc)): ${line%, }"
}

restart_instance() {
  local name="$1" t0
  t0="$(ms_now)"
  event "restart-$name:begin"
  kill -TERM "${inst_pid[$name]}"
  wait "${inst_pid[$name]}" 2>/dev/null || true
  event "restart-$name:exited"
  local exited; exited="$(secs_since "$t0")"
  start_instance "$name"
  wait_ready "$name"
  event "restart-$name:end"
  echo "# restart $name: SIGTERM at +$(awk -v a="$t0" -v s="$start_ms" 'BEGIN { printf "%.1f", (a - s) / 1000 }') s, exited after $exited s, ready after $(secs_since "$t0") s"
}

run_mode() {
  local mode="$1"
  events="$work/events.$mode"
  : >"$events"
  local ready="$work/ready.$mode" out="$work/churn.$mode.json" details="$work/details.$mode.json"
  rm -f "$ready"
  local drop=()
  [ -n "${DROP_EVERY:-}" ] && drop=(--drop-every-secs "$DROP_EVERY")
  "$bin/loadgen" --base "http://127.0.0.1:$nginx_port" --cookies "$work/cookies.tsv" churn \
    --clients "$CLIENTS" --senders "$SENDERS" --rate "$RATE" --secs "$SECS" \
    --reconnect-ms "$RECONNECT_MS" "${drop[@]}" --ready-file "$ready" --events "$events" \
    --details "$details" --check >"$out" &
  lg=$!
  until [ -s "$ready" ]; do
    kill -0 "$lg" 2>/dev/null || break
    sleep 0.05
  done
  start_ms="$(head -n 1 "$ready" 2>/dev/null || ms_now)"
  echo "# $mode: sending started"
  # Sample the CPU from 1 s to 4 s, before anything is taken away.
  sleep 1
  cpu_sample 3
  local first=$(( SECS / 5 > 4 ? SECS / 5 - 4 : 0 ))
  case "$mode" in
    rolling)
      sleep "$first"
      restart_instance a
      local half=$(( start_ms + SECS * 1000 / 2 )) now
      now="$(ms_now)"
      # The second restart at half time, and at least 5 s after the first.
      sleep "$(awk -v h="$half" -v n="$now" 'BEGIN { d = (h - n) / 1000; printf "%.2f", (d < 5 ? 5 : d) }')"
      restart_instance b
      ;;
    redis)
      sleep $(( SECS / 3 > 4 ? SECS / 3 - 4 : 0 ))
      local t0; t0="$(ms_now)"
      event "redis:begin"
      stop_redis
      sleep "$REDIS_DOWN"
      start_redis
      event "redis:end"
      echo "# redis: stopped at +$(awk -v a="$t0" -v s="$start_ms" 'BEGIN { printf "%.1f", (a - s) / 1000 }') s, answering again after $(secs_since "$t0") s"
      ;;
    postgres)
      sleep $(( SECS / 3 > 4 ? SECS / 3 - 4 : 0 ))
      local t0; t0="$(ms_now)"
      event "postgres:begin"
      as_pg "$pg_bin/pg_ctl" -D "$pgdir/data" -o "$pg_opts" -l "$pgdir/postgres.log" -m fast -w restart >/dev/null
      event "postgres:end"
      echo "# postgres: restart began at +$(awk -v a="$t0" -v s="$start_ms" 'BEGIN { printf "%.1f", (a - s) / 1000 }') s, accepting again after $(secs_since "$t0") s"
      ;;
  esac
  local rc=0
  wait "$lg" || rc=$?
  cat "$out"
  if [ "$rc" != 0 ]; then
    echo "# $mode: FAILED (loadgen exit $rc)" >&2
    failed=1
  fi
  if [ "$mode" != rolling ]; then
    # Recovered by itself: the same processes, healthy again.
    for name in a b; do
      local healthy=0
      for _ in $(seq 1 100); do
        if curl -fsS "http://127.0.0.1:${inst_port[$name]}/healthz" >/dev/null 2>&1; then healthy=1; break; fi
        sleep 0.1
      done
      if [ "$healthy" != 1 ] || ! kill -0 "${inst_pid[$name]}" 2>/dev/null; then
        echo "# $mode: instance $name did not recover by itself" >&2
        failed=1
      fi
    done
    [ "$failed" = 0 ] && echo "# $mode: both instances recovered by themselves (same processes, /healthz 200)"
  fi
}

for mode in "${MODES[@]}"; do
  run_mode "$mode"
done
exit "$failed"
