#!/usr/bin/env bash
# Fan-out rate sweep: the highest rate each server sustains with zero loss
# and p99 < 200 ms, 1,000 listeners. RATES="100 300 500" SECS=10 by default.
source "$(dirname "$0")/common.sh"
RATES="${RATES:-100 300 500}"
SECS="${SECS:-10}"
LISTENERS="${LISTENERS:-1000}"
build
start_chatroom $((LISTENERS + 10))
for rate in $RATES; do
  loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" fanout --listeners "$LISTENERS" --senders 10 --rate "$rate" --secs "$SECS"
done
stop_chatroom
start_floor
for rate in $RATES; do
  loadgen --label floor --base "$FLOOR_BASE" fanout --listeners "$LISTENERS" --senders 10 --rate "$rate" --secs "$SECS"
done
stop_floor
