#!/usr/bin/env bash
# Browser journey: builds the release binary, then runs the Node tests that
# start it on an ephemeral port with a fresh data directory, a real SMTP
# server on loopback, and Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")"
(cd .. && cargo build --release --quiet)
[ -d node_modules ] || npm ci --no-audit --no-fund
export CHATROOM_BIN="${CHATROOM_BIN:-$(cd .. && pwd)/target/release/chatroom}"
node --test --test-concurrency=1 --test-timeout=180000 journey.test.mjs notifications.test.mjs accounts.test.mjs addresses.test.mjs chat-page.test.mjs live-signals.test.mjs composer.test.mjs
