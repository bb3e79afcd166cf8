#!/usr/bin/env bash
# A 10-second fan-out against chatroom (50 listeners, 5 senders, 50 msg/s);
# fails on any lost or refused message. CI runs it.
source "$(dirname "$0")/common.sh"
build
start_chatroom 60
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" smoke
echo "bench smoke: 1 passed, 0 failed"
