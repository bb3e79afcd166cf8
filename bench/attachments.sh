#!/usr/bin/env bash
# Attachments: upload memory and throughput, download throughput.
#
#   bash bench/attachments.sh           # 20 accounts, a 25 MiB file each
#   SMALL=1 bash bench/attachments.sh   # 4 accounts, 2 MiB each (smoke.sh runs it)
#
# The release server on a free port with a fresh SQLite database in a
# temporary directory (BENCH_POSTGRES=1: a fresh PostgreSQL database, as
# run.sh; DATABASE_URL=postgres://…: that database as it is), pinned to
# core 0 and curl to core 1 (when there are two). Then:
#   1. USERS accounts register (POST /api/v1/auth/register, a cookie jar
#      each); everyone is in the global room;
#   2. upload: each uploads a MIB MiB file of random bytes (not a picture) to
#      the global room at the same time; the server's VmRSS is sampled every
#      50 ms before and during: peak growth, aggregate MiB/s, server CPU;
#   3. the first account sends its upload in a message;
#   4. download: every account downloads that file at the same time
#      (aggregate MiB/s, per download min / median / max, RSS growth), each
#      must be complete and one of them must match the file's SHA-256; then
#      one download alone, SINGLE (5) times one after the other (median).
# Server CPU is in % of one core (from /proc/<pid>/stat). Prints a table
# and one JSON line (with the server's counts of warnings, slow statements
# among them, and errors); exits 1 on any refused request, incomplete or
# corrupt download, or error logged by the server. Sizes: USERS (20), MIB
# (25; at most the server's CHATROOM_MAX_UPLOAD, 25 MiB), SINGLE (5).
# BIN=<chatroom binary> (default target/release/chatroom, built if missing:
# run `cargo build --release` first to measure the current code).
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/common.sh"

if [ "${SMALL:-0}" = 1 ]; then
  USERS="${USERS:-4}" MIB="${MIB:-2}"
fi
USERS="${USERS:-20}"
MIB="${MIB:-25}"
SINGLE="${SINGLE:-5}"
size=$((MIB * 1024 * 1024))
max_upload=26214400
if [ "$size" -gt "$max_upload" ]; then
  echo "MIB=$MIB is more than the server's upload limit ($max_upload bytes)" >&2
  exit 2
fi
if [ "$USERS" -lt 2 ]; then
  echo "USERS must be at least 2" >&2
  exit 2
fi

chatroom="${BIN:-$bin/chatroom}"
if [ ! -x "$chatroom" ]; then
  if [ -n "${BIN:-}" ]; then
    echo "BIN=$BIN is not an executable" >&2
    exit 2
  fi
  (cd "$root" && cargo build --release --quiet -p chatroom)
fi

say() { echo "# $*" >&2; }
fail() {
  echo "attachments bench FAILED: $*" >&2
  exit 1
}
now_ns() { date +%s%N; }
# mib_per_s BYTES NANOSECONDS
mib_per_s() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.1f", b / 1048576 / (ns / 1e9) }'; }
# attachment_field NAME < an upload's answer → that field of its attachment
attachment_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)["attachment"][sys.argv[1]])' "$1"; }

# --- the server -------------------------------------------------------------
port="$(free_port)"
base="http://127.0.0.1:$port"
mkdir -p "$work/chatroom"
db_kind=sqlite
if [ -n "${DATABASE_URL:-}" ]; then
  export CHATROOM_DATABASE_URL="$DATABASE_URL"
  db_kind="${DATABASE_URL%%:*}"
elif [ "${BENCH_POSTGRES:-0}" = 1 ]; then
  bench_db="chatroom_bench_$$"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $bench_db" >/dev/null
  export CHATROOM_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$bench_db"
  db_kind=postgres
fi
(cd "$work/chatroom" && CHATROOM_BIND="127.0.0.1:$port" CHATROOM_CHAT_RATE=100000 \
    CHATROOM_REGISTER_LIMIT=1000000 CHATROOM_LOGIN_LIMIT=1000000 \
    CHATROOM_MAX_CONNECTIONS_PER_IP=1000000 RUST_LOG=warn \
    exec $server_cpu "$chatroom" >"$work/server.log" 2>&1) &
server_pid=$!
pids+=("$server_pid")
wait_up "$base"

# Server memory (VmRSS, KiB) and CPU time (clock ticks).
rss_kib() {
  local key value _
  while read -r key value _; do
    if [ "$key" = VmRSS: ]; then echo "$value"; return 0; fi
  done <"/proc/$server_pid/status"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
ticks_per_s="$(getconf CLK_TCK)"
# cpu_pct TICKS_BEFORE NANOSECONDS → server CPU in % of one core since then
cpu_pct() { awk -v t="$(( $(cpu_ticks) - $1 ))" -v hz="$ticks_per_s" -v ns="$2" 'BEGIN { printf "%.0f", 100 * t / hz / (ns / 1e9) }'; }

sampler_pid=""
# start_sampling FILE: the server's VmRSS every 50 ms into FILE.
start_sampling() {
  local out="$1"
  : >"$out"
  (while kill -0 "$server_pid" 2>/dev/null; do rss_kib >>"$out" || true; sleep 0.05; done) &
  sampler_pid=$!
  pids+=("$sampler_pid")
}
stop_sampling() {
  kill "$sampler_pid" 2>/dev/null || true
  wait "$sampler_pid" 2>/dev/null || true
}
# baseline_kib: the most of a few samples taken at rest.
baseline_kib() {
  local most=0 v
  for _ in 1 2 3 4 5; do
    v="$(rss_kib)"
    [ "$v" -gt "$most" ] && most="$v"
    sleep 0.05
  done
  echo "$most"
}
# stats_mib: bytes/s, one a line → "min median max" in MiB/s
stats_mib() {
  sort -g | awk '{ v[NR] = $1 / 1048576 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "%.1f %.1f %.1f\n", v[1], m, v[NR] }'
}
peak_kib() { sort -n "$1" | tail -n 1; }
growth_mib() { awk -v p="$1" -v b="$2" 'BEGIN { printf "%.1f", (p - b) / 1024 }'; }

# --- accounts -----------------------------------------------------------------
say "registering $USERS accounts"
for i in $(seq 1 "$USERS"); do
  password="$(head -c 15 /dev/urandom | base64 | tr '+/' 'xy')"
  code="$(curl -sS -o "$work/register.$i.json" -w '%{http_code}' -c "$work/jar.$i" \
    -H 'Content-Type: application/json' \
    -d "{\"username\":\"att-$$-$i\",\"password\":\"$password\"}" \
    "$base/api/v1/auth/register")"
  [ "$code" = 201 ] || fail "registration $i answered $code: $(cat "$work/register.$i.json")"
done

# A file of random bytes that cannot be taken for a picture.
file="$work/upload.bin"
{ printf 'chatroom attachment benchmark\n'; head -c $((size - 30)) /dev/urandom; } >"$file"
[ "$(stat -c %s "$file")" = "$size" ] || fail "test file is not $size bytes"
file_sha="$(sha256sum "$file" | cut -d' ' -f1)"

# --- upload -------------------------------------------------------------------
say "upload: $USERS × $MIB MiB at once"
up_base="$(baseline_kib)"
start_sampling "$work/rss.upload"
ticks="$(cpu_ticks)"
start="$(now_ns)"
up_pids=()
for i in $(seq 1 "$USERS"); do
  $load_cpu curl -sS --max-time 120 -o "$work/upload.$i.json" -w '%{http_code}' -b "$work/jar.$i" \
    -F "file=@$file;type=application/octet-stream;filename=bench-$i.bin" \
    "$base/api/v1/rooms/global/attachments" >"$work/upload.$i.code" 2>"$work/upload.$i.err" &
  up_pids+=($!)
done
for pid in "${up_pids[@]}"; do wait "$pid" || true; done
up_ns=$(($(now_ns) - start))
up_cpu="$(cpu_pct "$ticks" "$up_ns")"
stop_sampling
up_peak="$(peak_kib "$work/rss.upload")"
for i in $(seq 1 "$USERS"); do
  code="$(cat "$work/upload.$i.code")"
  [ "$code" = 201 ] || fail "upload $i answered ${code:-nothing}: $(cat "$work/upload.$i.json" "$work/upload.$i.err" 2>/dev/null)"
  stored="$(attachment_field size <"$work/upload.$i.json")"
  [ "$stored" = "$size" ] || fail "upload $i stored $stored bytes, not $size"
done
up_rate="$(mib_per_s $((USERS * size)) "$up_ns")"
up_growth="$(growth_mib "$up_peak" "$up_base")"

# --- send the first account's file ----------------------------------------------
att_id="$(attachment_field id <"$work/upload.1.json")"
att_url="$base$(attachment_field url <"$work/upload.1.json")"
code="$(curl -sS -o "$work/message.json" -w '%{http_code}' -b "$work/jar.1" \
  -H 'Content-Type: application/json' -d "{\"text\":\"\",\"attachments\":[$att_id]}" \
  "$base/api/v1/rooms/global/messages")"
case "$code" in 2??) ;; *) fail "sending the attachment answered $code: $(cat "$work/message.json")" ;; esac

# --- download -------------------------------------------------------------------
say "download: $USERS × $MIB MiB at once"
down_base="$(baseline_kib)"
start_sampling "$work/rss.download"
ticks="$(cpu_ticks)"
start="$(now_ns)"
down_pids=()
for i in $(seq 1 "$USERS"); do
  out=/dev/null
  [ "$i" = "$USERS" ] && out="$work/download.bin"
  $load_cpu curl -sS --max-time 120 -o "$out" -w '%{http_code} %{speed_download} %{size_download}\n' \
    -b "$work/jar.$i" "$att_url" >"$work/download.$i" 2>"$work/download.$i.err" &
  down_pids+=($!)
done
for pid in "${down_pids[@]}"; do wait "$pid" || true; done
down_ns=$(($(now_ns) - start))
down_cpu="$(cpu_pct "$ticks" "$down_ns")"
stop_sampling
down_peak="$(peak_kib "$work/rss.download")"
speeds=()
for i in $(seq 1 "$USERS"); do
  code="" speed="" got=""
  read -r code speed got <"$work/download.$i" || true
  [ "${code:-}" = 200 ] || fail "download $i answered ${code:-nothing}: $(cat "$work/download.$i.err")"
  [ "$got" = "$size" ] || fail "download $i got $got bytes, not $size"
  speeds+=("$speed")
done
[ "$(sha256sum "$work/download.bin" | cut -d' ' -f1)" = "$file_sha" ] \
  || fail "download $USERS does not match the uploaded file's SHA-256"
rm -f "$work/download.bin"
read -r per_min per_median per_max < <(printf '%s\n' "${speeds[@]}" | stats_mib)
down_rate="$(mib_per_s $((USERS * size)) "$down_ns")"
down_growth="$(growth_mib "$down_peak" "$down_base")"

say "download: 1 × $MIB MiB alone, $SINGLE times"
singles=()
ticks="$(cpu_ticks)"
start="$(now_ns)"
for _ in $(seq 1 "$SINGLE"); do
  code="" speed="" got=""
  read -r code speed got < <($load_cpu curl -sS --max-time 120 -o /dev/null \
    -w '%{http_code} %{speed_download} %{size_download}\n' -b "$work/jar.2" "$att_url") || true
  [ "$code" = 200 ] || fail "a single download answered ${code:-nothing}"
  [ "$got" = "$size" ] || fail "a single download got $got bytes, not $size"
  singles+=("$speed")
done
one_ns=$(($(now_ns) - start))
one_cpu="$(cpu_pct "$ticks" "$one_ns")"
read -r one_min one_rate one_max < <(printf '%s\n' "${singles[@]}" | stats_mib)

# The server's warnings (slow statements among them) and errors, counted.
warnings="$(grep -c 'WARN' "$work/server.log" || true)"
slow="$(grep -c 'slow statement' "$work/server.log" || true)"
errors="$(grep -cE 'ERROR|panick' "$work/server.log" || true)"
if [ "$errors" != 0 ]; then
  say "the server logged $errors errors:"
  grep -E 'ERROR|panick' "$work/server.log" | head -n 5 >&2
fi

# --- summary ----------------------------------------------------------------------
secs() { awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e9 }'; }
echo "attachments ($db_kind, $(nproc) cores, $(basename "$chatroom"))"
printf '%-36s %s\n' \
  "upload $USERS x $MIB MiB at once" "$(secs "$up_ns") s, $up_rate MiB/s aggregate, server CPU $up_cpu %" \
  "  server RSS" "$((up_base / 1024)) MiB before, peak +$up_growth MiB" \
  "download $USERS x $MIB MiB at once" "$(secs "$down_ns") s, $down_rate MiB/s aggregate, server CPU $down_cpu %" \
  "  per download (MiB/s)" "min $per_min / median $per_median / max $per_max" \
  "  server RSS" "$((down_base / 1024)) MiB before, peak +$down_growth MiB" \
  "download 1 x $MIB MiB alone, ${SINGLE}x" "median $one_rate MiB/s (min $one_min, max $one_max), server CPU $one_cpu %" \
  "server log" "$warnings warnings ($slow slow statements over 500 ms), $errors errors"
printf '{"scenario":"attachments","db":"%s","users":%s,"file_bytes":%s,"upload_secs":%s,"upload_mib_s":%s,"upload_rss_base_kib":%s,"upload_rss_peak_growth_mib":%s,"upload_server_cpu_pct":%s,"download_secs":%s,"download_mib_s":%s,"download_each_mib_s":{"min":%s,"median":%s,"max":%s},"download_rss_peak_growth_mib":%s,"download_server_cpu_pct":%s,"single_download_mib_s":{"min":%s,"median":%s,"max":%s},"single_download_server_cpu_pct":%s,"server_warnings":%s,"slow_statements":%s,"server_errors":%s}\n' \
  "$db_kind" "$USERS" "$size" "$(secs "$up_ns")" "$up_rate" "$up_base" "$up_growth" "$up_cpu" \
  "$(secs "$down_ns")" "$down_rate" "$per_min" "$per_median" "$per_max" "$down_growth" "$down_cpu" \
  "$one_min" "$one_rate" "$one_max" "$one_cpu" "$warnings" "$slow" "$errors"
[ "$errors" = 0 ] || fail "the server logged $errors errors"
