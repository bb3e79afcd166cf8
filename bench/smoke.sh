#!/usr/bin/env bash
# A 10-second fan-out against chatroom (50 listeners, 5 senders, 50 msg/s),
# then a 15-second one with a listener that stops reading; fails on any
# lost, refused, duplicated or reordered message, or if the stalled
# listener keeps its connection or cannot catch up. CI runs it.
source "$(dirname "$0")/common.sh"
build
start_chatroom 60
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" smoke
# A listener that stops reading is cut and catches up; nobody else loses one.
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" slow --listeners 20 --senders 2 --rate 400 --secs 15 --check
echo "bench smoke: 2 passed, 0 failed"
