#!/usr/bin/env bash
# The load benchmark: chatroom and the bare socketioxide floor, same clients,
# same run. Prints one JSON line per scenario. Sizes can be overridden:
#   CLIENTS=10000 LISTENERS=1000 RATE=100 SECS=30 bash bench/run.sh
source "$(dirname "$0")/common.sh"
CLIENTS="${CLIENTS:-1000}"
LISTENERS="${LISTENERS:-1000}"
SENDERS="${SENDERS:-10}"
RATE="${RATE:-100}"
SECS="${SECS:-10}"
INGEST_SENDERS="${INGEST_SENDERS:-50}"
build
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"

users=$(( CLIENTS > LISTENERS + SENDERS ? CLIENTS : LISTENERS + SENDERS ))
start_chatroom "$users"
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" hold --clients "$CLIENTS" --secs 5 --server-pid "$CHATROOM_PID"
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" fanout --listeners "$LISTENERS" --senders "$SENDERS" --rate "$RATE" --secs "$SECS"
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" ingest --senders "$INGEST_SENDERS" --secs "$SECS"
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" history --samples 500
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" login --count 200 --password "correct horse battery staple"
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" login --count 400 --password "correct horse battery staple" \
  --fanout-rate "$RATE" --fanout-listeners "$LISTENERS" --fanout-secs "$SECS"
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" slow --listeners 100 --senders 5 --rate 400 --secs 12
stop_chatroom

start_floor
loadgen --label floor --base "$FLOOR_BASE" hold --clients "$CLIENTS" --secs 5 --server-pid "$FLOOR_PID"
loadgen --label floor --base "$FLOOR_BASE" fanout --listeners "$LISTENERS" --senders "$SENDERS" --rate "$RATE" --secs "$SECS"
loadgen --label floor --base "$FLOOR_BASE" ingest --senders "$INGEST_SENDERS" --secs "$SECS"
loadgen --label floor --base "$FLOOR_BASE" slow --listeners 100 --senders 5 --rate 400 --secs 12
stop_floor
