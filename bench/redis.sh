#!/usr/bin/env bash
# What Redis mode costs: the highest sustained fan-out rate (0 lost, no
# refused send, p99 < 200 ms; LISTENERS listeners, 10 senders) of chatroom
# on SQLite without Redis and with CHATROOM_REDIS_URL set, in one run. The
# two modes alternate rate by rate (the one that goes first swaps every
# rate), each measurement on a freshly started server and a fresh database,
# so noise on a shared machine hits both alike. Prints one JSON line per
# (mode, rate), the fan-out scenario's figures plus the server's CPU time,
# then a summary line with both highest rates and their ratio.
#   bash bench/redis.sh                 # RATES="400 800 1200 1600" SECS=10 LISTENERS=1000
#   RATES="1000 1200 1400" SECS=20 bash bench/redis.sh
#   PERF=/tmp/redis.perf bash bench/redis.sh  # also `perf record -g` each server: $PERF.<mode>.<rate>
# REDIS_URL (redis://127.0.0.1:6379) must answer; every server uses its own
# CHATROOM_REDIS_PREFIX, and their keys are deleted at the end.
source "$(dirname "$0")/common.sh"
RATES="${RATES:-400 800 1200 1600}"
SECS="${SECS:-10}"
LISTENERS="${LISTENERS:-1000}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
run_prefix="bench-redis-$$-$(date +%s)"
build

redis_cli() {
  if command -v redis-cli >/dev/null 2>&1; then redis-cli -u "$REDIS_URL" "$@"; fi
}
if command -v redis-cli >/dev/null 2>&1 && [ "$(redis_cli ping 2>/dev/null)" != PONG ]; then
  echo "no Redis answers at $REDIS_URL" >&2
  exit 1
fi
forget_redis_keys() {
  redis_cli --scan --pattern "$run_prefix*" 2>/dev/null | while read -r key; do
    redis_cli del "$key" >/dev/null
  done
}
trap 'forget_redis_keys; cleanup' EXIT

# CPU seconds (user + system) a process has used so far.
cpu_secs() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}

results="$work/redis.jsonl"
: >"$results"
# measure MODE RATE: one fan-out on a fresh server, one JSON line.
measure() {
  local mode="$1" rate="$2" out="$work/one.json" log="$work/server.log" perf_pid="" before after
  # The server's log goes to $log (its lines would mix with the JSON).
  if [ "$mode" = redis ]; then
    CHATROOM_REDIS_URL="$REDIS_URL" CHATROOM_REDIS_PREFIX="$run_prefix-$rate:" \
      start_chatroom $((LISTENERS + 10)) >"$log" 2>&1
  else
    start_chatroom $((LISTENERS + 10)) >"$log" 2>&1
  fi
  if [ -n "${PERF:-}" ]; then
    # From when the listeners are connected (a few seconds in) to the end of the sends.
    (sleep "${PERF_DELAY:-4}" && exec perf record -g -F 499 -o "$PERF.$mode.$rate" \
        -p "$CHATROOM_PID" -- sleep "$SECS") >/dev/null 2>&1 &
    perf_pid=$!
  fi
  before="$(cpu_secs "$CHATROOM_PID")"
  loadgen --label "chatroom-$mode" --base "$CHATROOM_BASE" --cookies "$COOKIES" fanout \
      --listeners "$LISTENERS" --senders 10 --rate "$rate" --secs "$SECS" >"$out"
  after="$(cpu_secs "$CHATROOM_PID")"
  if [ -n "$perf_pid" ]; then wait "$perf_pid" 2>/dev/null || true; fi
  stop_chatroom
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
mode, before, after = sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
d = {"mode": mode, **d}
d["server_cpu_secs"] = round(after - before, 2)
d["server_warnings"] = sum(" WARN " in line for line in open(sys.argv[5], errors="replace"))
if d["sent_acked"]:
    d["server_cpu_us_per_message"] = round((after - before) * 1e6 / d["sent_acked"], 1)
d["sustained"] = (d["lost"] == 0 and d["refused"] == 0 and d["sent_acked"] > 0
                  and (d["latency"].get("p99_ms") or 1e9) < 200)
print(json.dumps(d))' "$out" "$mode" "$before" "$after" "$log" | tee -a "$results"
}

flip=0
for rate in $RATES; do
  if [ "$flip" = 0 ]; then order="sqlite redis"; else order="redis sqlite"; fi
  flip=$((1 - flip))
  for mode in $order; do measure "$mode" "$rate"; done
done

python3 -c '
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
for r in rows:
    r["rate"] = int(r["rate"]) if float(r["rate"]).is_integer() else r["rate"]
best = {}
for mode in ("sqlite", "redis"):
    ok = [r for r in rows if r["mode"] == mode and r["sustained"]]
    top = max(ok, key=lambda r: r["rate"]) if ok else None
    best[mode] = top
out = {"scenario": "redis-vs-none", "listeners": rows[0]["listeners"], "secs": rows[0]["secs"],
       "rates": sorted({r["rate"] for r in rows})}
for mode, top in best.items():
    out[mode + "_highest_rate"] = top["rate"] if top else 0
    out[mode + "_p99_ms_at_highest"] = top["latency"].get("p99_ms") if top else None
    out[mode + "_p99_ms_by_rate"] = {str(r["rate"]): r["latency"].get("p99_ms") for r in rows if r["mode"] == mode}
    # The highest rate tried passed: the limit lies above RATES, the ratio is a floor.
    out[mode + "_capped"] = bool(top) and top["rate"] == max(out["rates"])
a, b = out["sqlite_highest_rate"], out["redis_highest_rate"]
out["ratio"] = round(b / a, 3) if a else None
out["target_met"] = bool(a) and b >= 0.85 * a
print(json.dumps(out))' "$results"
