#!/usr/bin/env bash
# Soak: thousands of sockets with steady traffic for a bounded time, server
# RSS sampled every 15 s. Not part of CI. Defaults: 2,000 listeners, 20
# senders, 50 msg/s, 300 s:  LISTENERS=2000 RATE=50 SECS=600 bash bench/soak.sh
source "$(dirname "$0")/common.sh"
LISTENERS="${LISTENERS:-2000}"
SENDERS="${SENDERS:-20}"
RATE="${RATE:-50}"
SECS="${SECS:-300}"
build
start_chatroom $((LISTENERS + SENDERS))
(while kill -0 "$CHATROOM_PID" 2>/dev/null; do
   echo "rss_kib $(date +%s) $(awk '/VmRSS/ {print $2}' "/proc/$CHATROOM_PID/status" 2>/dev/null)"
   sleep 15
 done) &
pids+=($!)
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" fanout --listeners "$LISTENERS" --senders "$SENDERS" --rate "$RATE" --secs "$SECS"
