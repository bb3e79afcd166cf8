// chatroom — the Discover page's chat, replies and threads: the thread panel
// (a thread's root, its replies, the Reply composer, following), the
// thread's read marker, and the Threads view (the threads you follow).
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML (message lines show a message's
// server-rendered `html` through messages.js).
//
// Protocol: docs/threads.md. A reply's broadcast is placed by `reply_to`
// (the open thread) and `in_room` (the conversation, history.js); the
// root's new summary arrives as `message_updated` (messages.js's
// replaceMessage redraws it wherever it is shown).

import { MAX_CHARS, UNREAD_CAP } from "./config.js";
import {
  BOTTOM_SLACK_PX,
  CATCH_UP_PAGE,
  HISTORY_TIMEOUT_MS,
  PAGE,
  TOP_SLACK_PX,
  el,
  page,
  pending,
  roomView,
  rooms,
  socket,
  threadView,
} from "./state.js";
import {
  ago,
  api,
  ask,
  button,
  errorMessage,
  excerpt,
  isMessage,
  isMine,
  keepingFocus,
  make,
  mentionsMe,
  parseTime,
  fullFormat,
  roomOf,
  wide,
} from "./util.js";
import { announce, avatarFor, buildMessage, regroup } from "./messages.js";
import { enterSends, sendText, settlePendingFor } from "./sending.js";
import { attachMentions } from "./mentions-autocomplete.js";
import { backToChat, roomLabel, showView } from "./conversations.js";
import { closeDrawers } from "./drawers.js";
import { summaryText } from "./attachment-view.js";
import { createTray } from "./uploads.js";

// ------------------------------------------------------- the open thread

const thread = {
  root: null, // the root's id while the panel shows a thread
  rootMsg: null, // the root message, once loaded
  room: null, // its conversation
  seq: 0, // bumped on every open/close: late answers for another thread are dropped
  loaded: false,
  loadingOlder: false,
  catchingUp: false,
  reachedStart: false,
  minId: Infinity, // the oldest and newest reply shown
  maxId: 0,
  pinned: true, // the panel follows new replies
  readSent: 0, // the newest reply id sent as read
  returnTo: null, // where focus goes back to: {node, id, action, root}
};

// Following chosen on this page (the buttons, or replying), by root id.
const followed = new Map();

// The Threads view: GET /api/v1/me/threads.
const threads = { list: [], loaded: false, seq: 0, timer: 0 };

threadView.onTop = () => loadOlderReplies();

// A redrawn root updates the panel's reply count and follow button.
threadView.onReplace = (m) => {
  if (m.id !== thread.root) return;
  thread.rootMsg = m;
  renderCount();
};

const isOpen = () => thread.root !== null;

function setStatus(text) {
  if (el.threadStatus.textContent !== text) el.threadStatus.textContent = text;
}

function setNotice(text) {
  if (el.threadNotice.textContent !== text) el.threadNotice.textContent = text;
}

function where(roomId) {
  const room = rooms.get(roomId);
  if (!room) return roomId ? `#${roomId}` : "";
  return `${room.kind === "dm" ? "@" : "#"}${roomLabel(room)}`;
}

function renderCount() {
  const root = thread.rootMsg;
  const n = root && root.thread && Number.isInteger(root.thread.reply_count) ? root.thread.reply_count : 0;
  const text = !root ? "" : n === 0 ? "No replies yet" : `${n} ${n === 1 ? "reply" : "replies"}`;
  if (el.threadCount.textContent !== text) el.threadCount.textContent = text;
  renderFollow();
}

// {root, messages} or {error}: the socket when connected, else the REST route.
async function askThread(query) {
  if (socket.connected) {
    const reply = await ask("thread", query, HISTORY_TIMEOUT_MS);
    if (reply && reply.ok && isMessage(reply.root) && Array.isArray(reply.messages)) {
      return { root: reply.root, messages: reply.messages.filter(isMessage) };
    }
    return { error: (reply && reply.error) || { code: "timeout" } };
  }
  const params = new URLSearchParams();
  for (const key of ["before", "after", "limit"]) if (query[key] !== undefined) params.set(key, String(query[key]));
  const res = await api("GET", `/api/v1/messages/${encodeURIComponent(query.id)}/thread?${params}`);
  if (res.ok && res.data && isMessage(res.data.root) && Array.isArray(res.data.messages)) {
    return { root: res.data.root, messages: res.data.messages.filter(isMessage) };
  }
  return { error: res.error };
}

function unavailable(error) {
  return Boolean(error) && (error.code === "not_found" || error.code === "forbidden" || error.code === "http_404");
}

function renderRoot(m) {
  thread.rootMsg = m;
  thread.room = roomOf(m);
  threadView.known.set(m.id, m);
  const li = buildMessage(m, "root");
  li.dataset.id = String(m.id);
  const old = threadView.rendered.get(m.id);
  if (old && old.parentNode === el.threadRoot) old.replaceWith(li);
  else el.threadRoot.replaceChildren(li);
  threadView.rendered.set(m.id, li);
  regroup(li);
  el.threadWhere.textContent = `in ${where(thread.room)}`;
  renderCount();
}

// Where a reply with this id goes: in id order, before pending ones.
function replySlot(id) {
  let node = el.threadList.lastElementChild;
  let before = null;
  while (node) {
    if (!node.dataset.pending && Number(node.dataset.id) < id) return node.nextElementSibling;
    before = node;
    node = node.previousElementSibling;
  }
  if (id > thread.maxId) return el.threadList.querySelector(":scope > li[data-pending]");
  return before;
}

function insertReply(m) {
  if (!isMessage(m) || m.reply_to !== thread.root || threadView.rendered.has(m.id)) return false;
  const li = buildMessage(m, "reply");
  li.dataset.id = String(m.id);
  el.threadList.insertBefore(li, replySlot(m.id));
  threadView.rendered.set(m.id, li);
  threadView.known.set(m.id, m);
  thread.maxId = Math.max(thread.maxId, m.id);
  thread.minId = Math.min(thread.minId, m.id);
  regroup(li);
  regroup(li.nextElementSibling);
  return true;
}

function distanceFromBottom() {
  const s = el.threadScroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight;
}

function scrollToEnd() {
  el.threadScroller.scrollTop = el.threadScroller.scrollHeight;
  thread.pinned = true;
}

// New replies (live, acked, caught up): shown, followed, marked read.
function addReplies(list) {
  let added = 0;
  let mine = false;
  for (const m of list) {
    if (!insertReply(m)) continue;
    added += 1;
    if (isMine(m)) mine = true;
    else announce(m);
  }
  if (!added) return;
  if (thread.pinned || mine) scrollToEnd();
  scheduleThreadRead();
}

function emptyPanel() {
  threadView.rendered.clear();
  threadView.known.clear();
  el.threadRoot.replaceChildren();
  el.threadList.replaceChildren();
  el.threadCount.textContent = "";
  el.threadWhere.textContent = "";
  el.threadFollow.hidden = true;
  setStatus("");
  setNotice("");
  Object.assign(thread, {
    rootMsg: null,
    room: null,
    loaded: false,
    loadingOlder: false,
    catchingUp: false,
    reachedStart: false,
    minId: Infinity,
    maxId: 0,
    pinned: true,
    readSent: 0,
  });
}

/**
 * Opens the thread of `id` (a root, or any reply of it) in the panel.
 * `from`: the control that asked (focus goes back to it on closing);
 * `message`: the root when the page already has it, shown at once.
 */
export async function openThread(id, options = {}) {
  if (!Number.isInteger(id)) return;
  const from = options.from || null;
  const fromLine = from && from.closest("li.message[data-id]");
  thread.returnTo = from
    ? {
        node: from,
        id: fromLine ? Number(fromLine.dataset.id) : null,
        action: from.dataset.action || null,
        root: from.dataset.root || null, // an entry of the Threads view
      }
    : null;
  if (thread.root === id && thread.loaded) {
    focusPanel();
    return;
  }
  thread.seq += 1;
  const seq = thread.seq;
  emptyPanel();
  thread.root = id;
  el.threadPanel.hidden = false;
  el.threadAlso.checked = false;
  const known = options.message;
  if (isMessage(known) && known.id === id && !Number.isInteger(known.reply_to)) renderRoot(known);
  else setStatus("Loading…");
  focusPanel();
  refreshThreads();

  const answer = await askThread({ id, limit: PAGE });
  if (seq !== thread.seq) return;
  if (answer.error) {
    setStatus("");
    setNotice(unavailable(answer.error) ? "This thread is not available to you." : "Could not load the thread. Try again.");
    return;
  }
  thread.root = answer.root.id; // `id` may have been a reply
  renderRoot(answer.root);
  for (const m of answer.messages) insertReply(m);
  thread.loaded = true;
  replyTray.render(); // this thread's files, if some were added before
  thread.reachedStart = answer.messages.length < PAGE;
  setStatus("");
  // Replies of ours still on their way come back below.
  for (const entry of pending.values()) {
    if (entry.thread === thread.root) el.threadList.append(entry.li);
  }
  scrollToEnd();
  fillPanel();
  scheduleThreadRead();
}

function focusPanel() {
  // On a phone the keyboard would cover the thread: the panel takes focus.
  if (wide()) el.threadInput.focus({ preventScroll: true });
  else el.threadPanel.focus({ preventScroll: true });
}

/** Closes the panel; focus goes back to what opened it. */
export function closeThread(refocus = true) {
  if (!isOpen()) return;
  const back = thread.returnTo;
  thread.seq += 1;
  thread.root = null;
  thread.returnTo = null;
  emptyPanel();
  replyTray.render();
  el.threadPanel.hidden = true;
  if (!refocus) return;
  let target = back && back.node && back.node.isConnected ? back.node : null;
  if (!target && back && back.id !== null) {
    // Its line was redrawn meanwhile (a new reply count): the same control on the new line.
    const li = roomView.rendered.get(back.id);
    if (li) target = (back.action && li.querySelector(`[data-action="${back.action}"]`)) || li.querySelector(".message-row");
  }
  if (!target && back && back.root) target = el.threadsList.querySelector(`button[data-root="${CSS.escape(back.root)}"]`);
  if (!target || target.closest("[hidden]")) target = page.view === "threads" ? el.threadsList.querySelector("button") || el.threadsClose : el.input;
  target.focus({ preventScroll: true });
}

// A page of older replies when scrolled to the top.
async function loadOlderReplies() {
  if (!isOpen() || !thread.loaded || thread.loadingOlder || thread.reachedStart || thread.minId === Infinity) return;
  const seq = thread.seq;
  thread.loadingOlder = true;
  setStatus("Loading…");
  const answer = await askThread({ id: thread.root, before: thread.minId, limit: PAGE });
  if (seq !== thread.seq) return;
  thread.loadingOlder = false;
  setStatus("");
  if (answer.error) return;
  const fromBottom = distanceFromBottom();
  for (const m of answer.messages) insertReply(m);
  thread.reachedStart = answer.messages.length < PAGE;
  el.threadScroller.scrollTop = el.threadScroller.scrollHeight - el.threadScroller.clientHeight - fromBottom;
  fillPanel();
}

function fillPanel() {
  if (!thread.reachedStart && el.threadScroller.scrollHeight <= el.threadScroller.clientHeight + 1) loadOlderReplies();
}

el.threadScroller.addEventListener(
  "scroll",
  () => {
    thread.pinned = distanceFromBottom() < BOTTOM_SLACK_PX;
    if (el.threadScroller.scrollTop < TOP_SLACK_PX) loadOlderReplies();
  },
  { passive: true },
);

// After a reconnect: the replies missed meanwhile, and the root's state.
async function catchUpThread() {
  if (!isOpen() || !thread.loaded || thread.catchingUp) return;
  const seq = thread.seq;
  thread.catchingUp = true;
  let cursor = thread.maxId;
  try {
    for (;;) {
      const answer = await askThread({ id: thread.root, after: cursor, limit: CATCH_UP_PAGE });
      if (seq !== thread.seq || answer.error) break;
      renderRoot(answer.root);
      addReplies(answer.messages);
      if (answer.messages.length < CATCH_UP_PAGE) break;
      cursor = Math.max(cursor, ...answer.messages.map((m) => m.id));
    }
  } finally {
    if (seq === thread.seq) thread.catchingUp = false;
  }
}

// --------------------------------------------------------- read marker

let readTimer = 0;
function scheduleThreadRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(markThreadRead, 300);
}

// The open thread, shown to the reader, is read up to its newest reply.
async function markThreadRead() {
  if (!isOpen() || !thread.loaded || document.hidden) return;
  const root = thread.root;
  const item = threads.list.find((t) => t.root.id === root);
  if (item && item.unread) {
    item.unread = 0;
    renderThreads();
  }
  const id = thread.maxId;
  if (!id || id <= thread.readSent) return;
  thread.readSent = id;
  if (socket.connected) await ask("thread_read", { id: root, last_read_id: id });
  else await api("PUT", `/api/v1/messages/${root}/thread/read`, { last_read_id: id });
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) scheduleThreadRead();
});

// ----------------------------------------------------------- following

function following() {
  const root = thread.rootMsg;
  if (!root) return false;
  if (followed.has(root.id)) return followed.get(root.id);
  if (threads.list.some((t) => t.root.id === root.id)) return true;
  const replies = root.thread && root.thread.reply_count > 0;
  // The list names every followed thread with replies (up to its limit of 100).
  if (replies && threads.loaded && threads.list.length < 100) return false;
  return isMine(root) || mentionsMe(root) || [...threadView.known.values()].some(isMine);
}

// Waiting for the next list of followed threads (notifications.js).
const refreshedWaiters = [];
export function whenThreadsRefreshed(fn) {
  refreshedWaiters.push(fn);
}

/** Whether I follow the thread of this root, as far as this page knows (notifications.js). */
export function followsThread(rootId) {
  if (followed.has(rootId)) return followed.get(rootId);
  return threads.list.some((t) => t.root.id === rootId);
}

/** Whether the thread of this root is shown, in a visible tab. */
export function threadInView(rootId) {
  return isOpen() && thread.root === rootId && !document.hidden;
}

function renderFollow() {
  const root = thread.rootMsg;
  el.threadFollow.hidden = !root;
  if (!root) return;
  const label = following() ? "Unfollow thread" : "Follow thread";
  if (el.threadFollow.textContent !== label) el.threadFollow.textContent = label;
}

el.threadFollow.addEventListener("click", async () => {
  const root = thread.rootMsg;
  if (!root) return;
  const follow = !following();
  el.threadFollow.disabled = true;
  const res = await api(follow ? "PUT" : "DELETE", `/api/v1/messages/${root.id}/thread/follow`);
  el.threadFollow.disabled = false;
  if (!res.ok) {
    setNotice(errorMessage(res.error, "That did not work. Try again."));
    return;
  }
  followed.set(root.id, follow);
  if (thread.rootMsg === root) {
    renderFollow();
    setNotice(follow ? "You follow this thread." : "You no longer follow this thread.");
  }
  refreshThreads();
});

// ----------------------------------------------------------- composer

// Files for a reply: a tray of their own for each thread, uploaded to the
// thread's conversation and sent with the reply (docs/attachments.md).
const replyKey = () => `${thread.room}#${thread.root}`;
const replyTray = createTray({
  list: el.threadUploadTray,
  note: el.threadUploadNote,
  input: el.threadInput,
  where: () => (thread.loaded && thread.room ? { key: replyKey(), room: thread.room } : null),
  onChange: updateReplyComposer,
});

function updateReplyComposer() {
  const waiting = thread.loaded && replyTray.inFlight(replyKey()) > 0;
  el.threadSend.title = waiting ? "Waiting for uploads…" : "";
  el.threadForm.classList.toggle("is-waiting", waiting);
}

el.threadAttach.addEventListener("click", () => el.threadFileInput.click());
el.threadFileInput.addEventListener("change", () => {
  replyTray.add([...el.threadFileInput.files]);
  el.threadFileInput.value = "";
  el.threadInput.focus({ preventScroll: true });
});

function sendReply() {
  const text = el.threadInput.value.trim();
  if (text.length > MAX_CHARS || !thread.loaded || !thread.room) return;
  const key = replyKey();
  if (replyTray.inFlight(key) > 0) {
    replyTray.setNote("Waiting for uploads… Send again once they are done.");
    return;
  }
  if (!text && replyTray.ready(key).length === 0) return;
  const attachments = replyTray.take(key);
  sendText(el.threadList, { text, room: thread.room, thread: thread.root, alsoInRoom: el.threadAlso.checked, attachments });
  followed.set(thread.root, true); // replying follows a thread again
  renderFollow();
  el.threadInput.value = "";
  el.threadAlso.checked = false;
  sizeInput();
  scrollToEnd();
}

const autoSizes = typeof CSS !== "undefined" && CSS.supports && CSS.supports("field-sizing", "content");
function sizeInput() {
  if (autoSizes) return;
  el.threadInput.style.height = "auto";
  el.threadInput.style.height = `${Math.min(el.threadInput.scrollHeight + 2, 200)}px`;
}

el.threadForm.addEventListener("submit", (event) => {
  event.preventDefault();
  sendReply();
  el.threadInput.focus();
});

el.threadInput.addEventListener("keydown", (event) => {
  if (enterSends(event)) {
    event.preventDefault();
    sendReply();
  }
});

el.threadInput.addEventListener("input", sizeInput);
attachMentions(el.threadInput, () => thread.room);

el.threadClose.addEventListener("click", () => closeThread(true));

el.threadPanel.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || event.defaultPrevented) return;
  event.stopPropagation();
  closeThread(true);
});

// ------------------------------------------------------- live events

/** A `message` broadcast that is a reply: into the open thread, if it is that one. */
export function threadMessage(m) {
  if (!Number.isInteger(m.reply_to)) return;
  if (isMine(m)) settlePendingFor(m);
  if (isOpen() && thread.loaded && m.reply_to === thread.root) addReplies([m]);
  if (!isMine(m)) scheduleThreadsRefresh();
}

/** The ack of a reply sent here. */
export function replySettled(m) {
  if (!Number.isInteger(m.reply_to)) return;
  followed.set(m.reply_to, true);
  if (isOpen() && thread.loaded && m.reply_to === thread.root) addReplies([m]);
  scheduleThreadsRefresh();
}

/** A changed message: the Threads view shows the root's new words. */
export function threadMessageUpdated(m) {
  const item = threads.list.find((t) => t.root.id === m.id);
  if (!item) return;
  item.root = m;
  renderThreads();
}

/** After (re)connecting: what was missed. */
export function threadsReconnected() {
  refreshThreads();
  catchUpThread();
}

socket.on("thread_read", (payload) => {
  if (!payload || !Number.isInteger(payload.root_id)) return;
  const item = threads.list.find((t) => t.root.id === payload.root_id);
  if (item && item.unread) scheduleThreadsRefresh();
});

socket.on("room_left", (payload) => {
  const id = payload && (typeof payload.room === "string" ? payload.room : payload.room && payload.room.id);
  if (isOpen() && id && id === thread.room) closeThread(false);
  if (id) scheduleThreadsRefresh();
});

// ---------------------------------------------------------- Threads view

export function scheduleThreadsRefresh() {
  clearTimeout(threads.timer);
  threads.timer = setTimeout(refreshThreads, 400);
}

/** The threads I follow, from the server: the nav badge and the Threads view. */
export async function refreshThreads() {
  clearTimeout(threads.timer);
  const seq = ++threads.seq;
  if (page.view === "threads" && !threads.loaded) el.threadsStatus.textContent = "Loading…";
  const res = await api("GET", "/api/v1/me/threads");
  if (seq !== threads.seq) return;
  if (!res.ok || !res.data || !Array.isArray(res.data.threads)) {
    if (page.view === "threads") el.threadsStatus.textContent = errorMessage(res.error, "Could not load your threads.");
    return;
  }
  threads.list = res.data.threads
    .filter((t) => t && isMessage(t.root))
    .map((t) => ({ root: t.root, unread: Number.isInteger(t.unread) ? t.unread : 0, last_reply_at: t.last_reply_at }));
  threads.loaded = true;
  // The thread being read has nothing unread (its marker is on its way).
  const reading = isOpen() && thread.loaded && !document.hidden ? threads.list.find((t) => t.root.id === thread.root) : null;
  if (reading && reading.unread) {
    reading.unread = 0;
    scheduleThreadRead();
  }
  renderThreads();
  renderFollow();
  for (const fn of refreshedWaiters.splice(0)) fn();
}

function countText(n) {
  return n >= UNREAD_CAP ? `${UNREAD_CAP - 1}+` : String(n);
}

function threadItem(t) {
  const li = make("li", "thread-item");
  li.dataset.root = String(t.root.id);
  const b = button("", t.unread > 0 ? "thread-hit has-unread" : "thread-hit", "open-thread");
  b.dataset.root = String(t.root.id);
  if (isOpen() && thread.root === t.root.id) b.setAttribute("aria-current", "true");

  const head = make("span", "thread-hit-head");
  head.append(make("span", "thread-hit-room", where(roomOf(t.root))));
  if (t.last_reply_at) {
    const when = parseTime(t.last_reply_at);
    const time = make("time", "thread-hit-time", `Last reply ${ago(t.last_reply_at)}`);
    time.dateTime = when.toISOString();
    time.title = fullFormat.format(when);
    head.append(time);
  }
  if (t.unread > 0) {
    const badge = make("span", "conv-unread thread-unread", countText(t.unread));
    badge.setAttribute("aria-hidden", "true");
    head.append(badge, make("span", "visually-hidden", `, ${t.unread >= UNREAD_CAP ? `${UNREAD_CAP} or more` : t.unread} unread`));
  }

  const line = make("span", "thread-hit-line");
  const author = t.root.author;
  line.append(avatarFor(author || null, 24));
  line.append(make("span", "thread-hit-author", author ? author.username : "Deleted user"));
  b.append(head, line);
  b.append(make("span", "thread-hit-text", t.root.deleted ? "This message was deleted" : excerpt(summaryText(t.root))));
  const n = t.root.thread && Number.isInteger(t.root.thread.reply_count) ? t.root.thread.reply_count : 0;
  if (n > 0) b.append(make("span", "thread-hit-meta", `${n} ${n === 1 ? "reply" : "replies"}`));
  li.append(b);
  return li;
}

function renderThreads() {
  const total = threads.list.reduce((sum, t) => sum + (t.unread || 0), 0);
  el.threadsUnread.hidden = total === 0;
  el.threadsUnread.textContent = countText(total);
  el.openThreads.classList.toggle("has-unread", total > 0);
  if (total > 0) el.openThreads.setAttribute("aria-label", `Threads, ${total >= UNREAD_CAP ? `${UNREAD_CAP} or more` : total} unread`);
  else el.openThreads.removeAttribute("aria-label");

  keepingFocus(el.threadsList, "data-root", () => el.threadsList.replaceChildren(...threads.list.map(threadItem)));
  if (threads.loaded) {
    el.threadsStatus.textContent = threads.list.length
      ? ""
      : "No threads yet. Reply to a message to start one; threads you write in or are mentioned in show here.";
  }
}

function openThreadsView() {
  closeDrawers();
  showView("threads");
  renderThreads();
  refreshThreads();
  el.threadsView.querySelector(".panel-title").focus();
}

el.openThreads.addEventListener("click", () => (page.view === "threads" ? backToChat() : openThreadsView()));
el.threadsClose.addEventListener("click", backToChat);
el.threadsList.addEventListener("click", (event) => {
  const b = event.target.closest("button[data-root]");
  if (!b) return;
  const item = threads.list.find((t) => t.root.id === Number(b.dataset.root));
  openThread(Number(b.dataset.root), { from: b, message: item ? item.root : undefined });
});
