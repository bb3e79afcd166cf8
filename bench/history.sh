#!/usr/bin/env bash
# History latency with a large table: ingest for INGEST_SECS (≈ 1,000,000
# messages at ~17,000/s), then time 50-message pages over REST and Socket.IO.
source "$(dirname "$0")/common.sh"
INGEST_SECS="${INGEST_SECS:-60}"
build
start_chatroom 60
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" ingest --senders 50 --secs "$INGEST_SECS"
loadgen --base "$CHATROOM_BASE" --cookies "$COOKIES" history --samples 1000
