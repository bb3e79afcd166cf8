#!/usr/bin/env bash
# A 10-second fan-out against chatroom (50 listeners, 5 senders, 50 msg/s),
# then a 15-second one with a listener that stops reading; fails on any
# lost, refused, duplicated or reordered message, or if the stalled
# listener keeps its connection or cannot catch up; then small concurrent
# attachment uploads and downloads (SMALL=1 bench/attachments.sh) that must
# all succeed and arrive whole; then a short rolling restart of two instances
# behind nginx (SMALL=1 bench/rolling.sh) that must lose no acknowledged
# message; then a small reconnect storm (SMALL=1 bench/storm.sh: 500 sockets
# dropping every 15 s for 20 s) that must lose nothing and catch every
# socket up (p99 within 3 s). CI runs it.
source "$(dirname "$0")/common.sh"
build
start_chatroom 60
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" smoke
# A listener that stops reading is cut and catches up; nobody else loses one.
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" slow --listeners 20 --senders 2 --rate 400 --secs 15 --check
stop_chatroom 2>/dev/null || true
# 4 accounts upload 2 MiB each at once, then all download one of the files.
SMALL=1 bash "$(dirname "$0")/attachments.sh" | tail -n 1
# Two instances behind nginx, each restarted in turn: nothing acknowledged is lost.
SMALL=1 bash "$(dirname "$0")/rolling.sh" rolling | tail -n 4
# 50 people × 10 sockets, each dropped every ~15 s: all caught up, nothing lost.
SMALL=1 bash "$(dirname "$0")/storm.sh" | tail -n 1
echo "bench smoke: 5 passed, 0 failed"
