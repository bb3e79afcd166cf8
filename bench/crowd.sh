#!/usr/bin/env bash
# 100,000 sockets on one instance (issue 20): CLIENTS (100,000)
# authenticated sockets, spread over loopback source addresses 127.0.0.2,
# 127.0.0.3, … (one per 1,000 sockets), connected CONCURRENCY (100) at a
# time; the server's RSS before and after, per socket; then one more socket
# posts 1 message/s to the global room for SECS seconds (30) and every
# socket counts and times its deliveries. Prints the `crowd` JSON line and
# exits 1 when a target is missed: all connected within 60 s, nothing lost,
# delivery p99 ≤ 1 s.
#   bash bench/crowd.sh
#   SMALL=1 bash bench/crowd.sh            # 5,000 sockets, 10 s
#   PERF=/tmp/crowd.perf bash bench/crowd.sh   # also `perf record -g` the server while connecting
#   PERF=/tmp/crowd.perf PERF_PHASE=broadcast bash bench/crowd.sh   # … or during the broadcast
# Sockets are spread over ACCOUNTS seeded accounts (CLIENTS / 100; the
# server sets no limit of sockets per account or session).
source "$(dirname "$0")/common.sh"
if [ "${SMALL:-0}" = 1 ]; then
  CLIENTS="${CLIENTS:-5000}"
  SECS="${SECS:-10}"
fi
CLIENTS="${CLIENTS:-100000}"
SECS="${SECS:-30}"
ACCOUNTS="${ACCOUNTS:-$(( CLIENTS / 100 > 50 ? CLIENTS / 100 : 50 ))}"
CONCURRENCY="${CONCURRENCY:-100}"

# Each side holds one descriptor per socket (plus a few: the listener,
# SQLite's files): raise the limit of this script and of what it starts
# (as root, up to fs.nr_open), not the product's defaults. Raising the hard
# limit needs CAP_SYS_RESOURCE; without it the run cannot be done here.
need=$(( CLIENTS + 256 ))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -Hn 1048576 2>/dev/null || true
  ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  echo "crowd.sh: the file limit is $(ulimit -n) (hard $(ulimit -Hn)) and cannot be raised" \
    "here; $CLIENTS sockets need $need per process (root with CAP_SYS_RESOURCE can" \
    "raise it; at most CLIENTS=$(( $(ulimit -Hn) - 256 )) fits)" >&2
  exit 1
fi
build

port="$(free_port)"
dir="$(mktemp -d -p "$work")"
log="$dir/server.log"
(cd "$dir" && "$bin/chatroom" seed-users --count "$ACCOUNTS" --prefix bench \
    --password "correct horse battery staple" --sessions-out "$dir/cookies.tsv" >/dev/null)
(cd "$dir" && exec env CHATROOM_BIND="127.0.0.1:$port" CHATROOM_CHAT_RATE=100000 \
    CHATROOM_LOGIN_LIMIT=1000000 CHATROOM_MAX_CONNECTIONS_PER_IP=1000000 RUST_LOG=warn \
    $server_cpu "$bin/chatroom" 2>"$log" >/dev/null) &
pid=$!
pids+=("$pid")
wait_up "http://127.0.0.1:$port"

progress="$dir/progress"
: >"$progress"
if [ -n "${PERF:-}" ]; then
  # PERF_PHASE=connect: from the first socket; broadcast: from when all are
  # connected (the generator says so on stderr); PERF_SECS seconds.
  (if [ "${PERF_PHASE:-connect}" = broadcast ]; then
     until grep -q broadcasting "$progress"; do sleep 0.2; done
     sleep 3
   fi
   exec perf record -g -F 499 -o "$PERF" -p "$pid" -- sleep "${PERF_SECS:-15}") >/dev/null 2>&1 &
  pids+=("$!")
fi
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
loadgen --base "http://127.0.0.1:$port" --cookies "$dir/cookies.tsv" crowd \
    --clients "$CLIENTS" --secs "$SECS" --concurrency "$CONCURRENCY" --server-pid "$pid" \
    --check >"$dir/result.json" 2> >(tee "$progress" >&2) || rc=$?
if ! [ -s "$dir/result.json" ]; then
  tail -n 20 "$log" >&2
  exit 1
fi
# The machine's load and the server's warnings (accept failures such as
# running out of descriptors, refused connections) go with the figures.
python3 -c '
import json, re, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
log = open(sys.argv[2]).read()
d["accounts"] = int(sys.argv[3])
d["loadavg_before"] = sys.argv[4]
d["loadavg_after"] = " ".join(open("/proc/loadavg").read().split()[:3])
d["server_warnings"] = len(re.findall(r"\bWARN\b", log))
d["server_accept_failures"] = log.count("accept failed")
print(json.dumps(d))' "$dir/result.json" "$log" "$ACCOUNTS" "$load_before"
if [ "$rc" != 0 ]; then
  grep -a -m 5 -w WARN "$log" >&2 || true
fi
exit "$rc"
