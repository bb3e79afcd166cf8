// chatroom — the Discover page's chat, scrolling, loading history (latest,
// older, newer, around a message, catching up) and live message events.
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import {
  BOTTOM_SLACK_PX,
  CATCH_UP_PAGE,
  HIGHLIGHT_MS,
  HISTORY_TIMEOUT_MS,
  PAGE,
  TOP_SLACK_PX,
  el,
  page,
  rendered,
  rooms,
  socket,
} from "./state.js";
import { ask, isMessage, isMine, roomOf } from "./util.js";
import { addNew, insertMessage, replaceMessage, resetList } from "./messages.js";
import {
  otherRoomMessage,
  pageHidden,
  refreshRooms,
  renderRooms,
  scheduleRead,
  scheduleRoomsRefresh,
  touchRoom,
} from "./conversations.js";
import { settlePendingFor } from "./sending.js";
import { notifyMention, notifyMessage } from "./notifications.js";
import { threadMessage, threadMessageUpdated } from "./threads.js";

// ---------------------------------------------------------- scrolling

function distanceFromBottom() {
  const s = el.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight;
}

export function scrollToBottom() {
  if (!page.reachedEnd) return;
  el.scroller.scrollTop = el.scroller.scrollHeight;
  page.pinned = true;
  el.newMessages.hidden = true;
}

el.scroller.addEventListener(
  "scroll",
  () => {
    const fromBottom = distanceFromBottom();
    page.pinned = page.reachedEnd && fromBottom < BOTTOM_SLACK_PX;
    if (page.pinned) el.newMessages.hidden = true;
    if (el.scroller.scrollTop < TOP_SLACK_PX) loadOlder();
    if (!page.reachedEnd && fromBottom < TOP_SLACK_PX) loadNewer();
  },
  { passive: true },
);

// The composer growing (or the window shrinking) must not unpin the view.
if (typeof ResizeObserver === "function") {
  new ResizeObserver(() => {
    if (page.pinned) el.scroller.scrollTop = el.scroller.scrollHeight;
  }).observe(el.scroller);
}

el.newMessages.addEventListener("click", () => {
  if (page.reachedEnd) scrollToBottom();
  else reloadLatest();
  el.input.focus();
});

function highlight(id) {
  const li = rendered.get(id);
  if (!li) return;
  li.scrollIntoView({ block: "center" });
  li.classList.add("is-highlighted");
  li.querySelector(".message-row").focus({ preventScroll: true });
  setTimeout(() => {
    const now = rendered.get(id);
    if (now) now.classList.remove("is-highlighted");
  }, HIGHLIGHT_MS);
}

// ------------------------------------------------------------ history

export function setHistoryStatus(text) {
  if (el.historyStatus.textContent !== text) el.historyStatus.textContent = text;
}

// {messages} or {error}; a timeout is an error too.
async function askHistory(query) {
  const reply = await ask("history", { room: page.current, ...query }, HISTORY_TIMEOUT_MS);
  if (reply && reply.ok && Array.isArray(reply.messages)) return { messages: reply.messages.filter(isMessage) };
  return { error: (reply && reply.error) || { code: "timeout" } };
}

// The conversation is gone or closed to us (left elsewhere, DM of a deleted user…).
function unavailable(error) {
  return Boolean(error) && (error.code === "forbidden" || error.code === "not_found");
}

function finishFirstPage(list) {
  page.loaded = true;
  el.scroller.classList.add("is-loaded");
  page.reachedStart = list.length < PAGE;
  setHistoryStatus(page.reachedStart ? "Beginning of the conversation" : "");
}

export async function loadLatest() {
  if (page.loadingLatest) return;
  const seq = page.viewSeq;
  page.loadingLatest = true;
  setHistoryStatus("Loading…");
  const answer = await askHistory({ limit: PAGE });
  if (seq !== page.viewSeq) return;
  page.loadingLatest = false;
  if (answer.error) {
    if (unavailable(answer.error)) {
      setHistoryStatus("This conversation is not available to you.");
      refreshRooms();
      return;
    }
    setHistoryStatus("Could not load the conversation. Retrying…");
    setTimeout(() => {
      if (seq === page.viewSeq && socket.connected && !page.loaded) loadLatest();
    }, 3000);
    return;
  }
  answer.messages.forEach(insertMessage);
  finishFirstPage(answer.messages);
  scrollToBottom();
  fillViewport();
  scheduleRead();
}

// Opens the conversation at one message: the page up to it, the page after.
// `atMarker`: `id` is the read marker of a long backlog — nothing is
// highlighted; the "New messages" line below it shows where to read from.
export async function loadAround(id, { atMarker = false } = {}) {
  const seq = page.viewSeq;
  page.loadingLatest = true;
  setHistoryStatus("Loading…");
  const older = await askHistory({ before: id + 1, limit: PAGE });
  if (seq !== page.viewSeq) return;
  const newer = older.error ? older : await askHistory({ after: id, limit: PAGE });
  if (seq !== page.viewSeq) return;
  page.loadingLatest = false;
  if (older.error) {
    setHistoryStatus(unavailable(older.error) ? "This conversation is not available to you." : "Could not load the conversation.");
    return;
  }
  page.reachedEnd = !newer.error && newer.messages.length < PAGE;
  older.messages.forEach(insertMessage);
  if (!newer.error) newer.messages.forEach(insertMessage);
  finishFirstPage(older.messages);
  page.pinned = false;
  if (atMarker) {
    const marker = rendered.get(id);
    if (marker) marker.scrollIntoView({ block: "start" });
  } else if (rendered.has(id)) highlight(id);
  else {
    setHistoryStatus("That message is no longer there.");
    scrollToBottom();
  }
  scheduleRead();
}

// A first page shorter than the window shows no scrollbar to pull on.
function fillViewport() {
  if (!page.reachedStart && el.scroller.scrollHeight <= el.scroller.clientHeight + 1) loadOlder();
}

export async function loadOlder() {
  if (!page.loaded || page.loadingOlder || page.reachedStart || !socket.connected || page.minId === Infinity) return;
  const seq = page.viewSeq;
  page.loadingOlder = true;
  setHistoryStatus("Loading…");
  const answer = await askHistory({ before: page.minId, limit: PAGE });
  if (seq !== page.viewSeq) return;
  page.loadingOlder = false;
  if (answer.error) {
    setHistoryStatus("");
    return;
  }
  // Keep what the reader is looking at in place while the list grows above it.
  const fromBottom = distanceFromBottom();
  answer.messages.forEach(insertMessage);
  page.reachedStart = answer.messages.length < PAGE;
  setHistoryStatus(page.reachedStart ? "Beginning of the conversation" : "");
  el.scroller.scrollTop = el.scroller.scrollHeight - el.scroller.clientHeight - fromBottom;
  fillViewport();
}

// After a jump back in time: the next page towards the present.
async function loadNewer() {
  if (!page.loaded || page.loadingNewer || page.reachedEnd || !socket.connected) return;
  const seq = page.viewSeq;
  page.loadingNewer = true;
  const answer = await askHistory({ after: page.maxId, limit: PAGE });
  if (seq !== page.viewSeq) return;
  page.loadingNewer = false;
  if (answer.error) return;
  const top = el.scroller.scrollTop;
  answer.messages.forEach(insertMessage);
  el.scroller.scrollTop = top;
  if (answer.messages.length < PAGE) {
    page.reachedEnd = true;
    el.newMessages.hidden = true;
  }
  scheduleRead();
}

export function reloadLatest() {
  resetList();
  loadLatest();
}

// After a reconnect: everything after the last id seen, page by page. The
// cursor is our own: live messages and acks arriving meanwhile move maxId
// past the gap still being fetched.
export async function catchUp() {
  if (page.catchingUp || !page.reachedEnd) return;
  const seq = page.viewSeq;
  page.catchingUp = true;
  let cursor = page.maxId;
  try {
    for (;;) {
      const answer = await askHistory({ after: cursor, limit: CATCH_UP_PAGE });
      if (seq !== page.viewSeq || answer.error) break;
      addNew(answer.messages);
      if (answer.messages.length < CATCH_UP_PAGE) break;
      cursor = Math.max(cursor, ...answer.messages.map((m) => m.id));
    }
  } finally {
    if (seq === page.viewSeq) page.catchingUp = false;
  }
}

// ------------------------------------------------------- live events

socket.on("message", (m) => {
  if (!isMessage(m)) return;
  // A reply goes to its thread (if open there); to the conversation only
  // when it was also sent to it (docs/threads.md).
  threadMessage(m);
  notifyMessage(m);
  if (m.in_room === false) return;
  if (roomOf(m) !== page.current) {
    if (isMine(m)) settlePendingFor(m);
    otherRoomMessage(m);
  } else if (page.reachedEnd) {
    addNew([m]);
  } else {
    // Reading older history: offer the way back to the present.
    if (isMine(m)) settlePendingFor(m);
    touchRoom(page.current, m);
    if (!isMine(m)) el.newMessages.hidden = false;
  }
});

socket.on("message_updated", (m) => {
  if (!isMessage(m)) return;
  replaceMessage(m);
  threadMessageUpdated(m);
});

socket.on("mention", (payload) => {
  const m = payload && payload.message;
  if (!isMessage(m) || isMine(m)) return;
  const room = rooms.get(roomOf(m));
  const seen = roomOf(m) === page.current && !pageHidden();
  if (room && !seen) {
    room.mentions = (room.mentions || 0) + 1;
    renderRooms();
  }
  if (!room) scheduleRoomsRefresh();
  notifyMention(m);
});
