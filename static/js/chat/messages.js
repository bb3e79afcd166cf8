// chatroom — the Discover page's chat, building message lines (in the open
// conversation and in the thread panel) and keeping the open conversation's
// list in order.
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML — but for a message's server-rendered
// `html`, which util.js's appendFormatted checks and adds.

import { UNREAD_CAP } from "./config.js";
import {
  GROUP_WINDOW_MS,
  el,
  known,
  lastSeen,
  me,
  page,
  pending,
  rendered,
  rooms,
  typers,
  views,
} from "./state.js";
import {
  ago,
  appendFormatted,
  appendLinkified,
  button,
  dayKey,
  dayLabel,
  fullFormat,
  isMessage,
  isMine,
  make,
  mentionsMe,
  parseTime,
  roomOf,
  shortTime,
  timeFormat,
} from "./util.js";
import { scrollToBottom, setHistoryStatus } from "./history.js";
import { settlePendingFor } from "./sending.js";
import { closePicker } from "./message-actions.js";
import { otherRoomMessage, pageHidden, renderRooms, scheduleRead, touchRoom } from "./conversations.js";
import { renderTyping } from "./people.js";
import { attachmentList, attachmentsOf, summaryText } from "./attachment-view.js";

// ----------------------------------------------------------- messages

export function avatarFor(author, size = 40) {
  if (!author) {
    const placeholder = make("span", "avatar avatar-placeholder");
    placeholder.setAttribute("aria-hidden", "true");
    return placeholder;
  }
  const img = make("img", size === 40 ? "avatar" : size < 32 ? "avatar avatar-xs" : "avatar avatar-sm");
  img.src = author.avatar_url;
  img.dataset.userId = String(author.id); // user_updated changes it (profile-panel.js)
  img.alt = "";
  img.width = size;
  img.height = size;
  img.decoding = "async";
  return img;
}

function reactionsFor(m) {
  const wrap = make("div", "reactions");
  for (const r of Array.isArray(m.reactions) ? m.reactions : []) {
    if (!r || typeof r.emoji !== "string" || !(r.count > 0)) continue;
    const users = Array.isArray(r.users) ? r.users.filter((u) => u && typeof u.username === "string") : [];
    const mine = users.some((u) => u.id === me.id);
    const chip = button("", "reaction", "toggle-reaction");
    chip.dataset.emoji = r.emoji;
    chip.tabIndex = -1;
    chip.setAttribute("aria-pressed", String(mine));
    chip.append(make("span", "reaction-emoji", r.emoji), make("span", "reaction-count", String(r.count)));
    const names = users.map((u) => (u.id === me.id ? "you" : u.username)).join(", ");
    chip.title = names ? `${names} reacted with ${r.emoji}` : `${r.count} reacted with ${r.emoji}`;
    chip.setAttribute("aria-label", `${r.emoji} ${r.count}${names ? `: ${names}` : ""}`);
    wrap.append(chip);
  }
  return wrap.childElementCount ? wrap : null;
}

// Hover/focus actions: React and (in the conversation) Reply in thread for
// everyone, Edit for the author, Delete for the author and admins. Buttons
// join the Tab order only while their line holds focus (arrow keys move
// between lines), so the page stays quick to cross with Tab.
function actionsFor(m, context) {
  if (!Number.isInteger(m.id) || m.deleted) return null;
  const bar = make("div", "message-actions");
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", "Actions");
  const list = [button("React", "action", "react")];
  if (context === "room") {
    // Seen as "Reply", named "Reply in thread".
    const reply = button("Reply", "action", "reply");
    reply.append(make("span", "visually-hidden", " in thread"));
    list.push(reply);
  }
  list.push(button("Copy link", "action", "copy-link")); // its permalink (addresses.js)
  if (isMine(m)) list.push(button("Edit", "action", "edit"));
  if (isMine(m) || me.isAdmin) list.push(button("Delete", "action action-danger", "delete"));
  for (const b of list) b.tabIndex = -1;
  bar.append(...list);
  return bar;
}

// "3 replies · Last reply 2 minutes ago" with the newest repliers' faces,
// under a thread's root in the conversation; it opens the thread.
function threadSummary(m) {
  const t = m.thread;
  if (!t || !Number.isInteger(t.reply_count) || t.reply_count < 1) return null;
  const b = button("", "thread-summary", "open-thread");
  b.tabIndex = -1;
  const faces = make("span", "thread-faces");
  faces.setAttribute("aria-hidden", "true");
  const people = Array.isArray(t.participants) ? t.participants.filter((p) => p && typeof p.avatar_url === "string") : [];
  for (const person of people.slice(0, 3)) faces.append(avatarFor(person, 24));
  const n = t.reply_count;
  b.append(faces, make("span", "thread-summary-count", `${n} ${n === 1 ? "reply" : "replies"}`));
  if (t.last_reply_at) {
    const dot = make("span", "thread-summary-dot", " · ");
    dot.setAttribute("aria-hidden", "true");
    const when = make("span", "thread-summary-when", `Last reply ${ago(t.last_reply_at)}`);
    when.dataset.time = t.last_reply_at;
    when.title = fullFormat.format(parseTime(t.last_reply_at));
    b.append(dot, when);
  }
  return b;
}

// Times like "2 minutes ago" age while the page stays open.
setInterval(() => {
  for (const node of document.querySelectorAll(".thread-summary-when[data-time]")) {
    const text = `Last reply ${ago(node.dataset.time)}`;
    if (node.textContent !== text) node.textContent = text;
  }
}, 60 * 1000);

// A reply that was also sent to the conversation says where it belongs.
function threadNote() {
  const note = make("p", "thread-note");
  note.append(make("span", "thread-note-text", "Replied in a thread"));
  const b = button("View thread", "thread-note-link", "open-thread");
  b.tabIndex = -1;
  note.append(b);
  return note;
}

function appendEdited(content, body, m) {
  const edited = make("span", "message-edited", "(edited)");
  edited.title = `Edited ${fullFormat.format(parseTime(m.edited_at))}`;
  // After the last paragraph's words, not under a block of its own.
  const last = body.lastElementChild;
  if (body.classList.contains("is-formatted") && last && last.tagName === "P") last.append(" ", edited);
  else if (body.classList.contains("is-formatted")) content.append(edited);
  else content.append(" ", edited);
}

// One <li>: avatar, name, time, text, reactions, actions (and a status
// line while pending). `context`: "room" (the open conversation), "root"
// (a thread's first message, atop the thread panel) or "reply" (in the
// thread panel).
export function buildMessage(m, context = "room") {
  const li = make("li", "message");
  li.dataset.context = context;
  const author = m.author || null;
  const time = parseTime(m.created_at);
  li.dataset.author = author ? String(author.id) : "deleted";
  li.dataset.time = String(time.getTime());
  if (author && author.id === me.id) li.classList.add("is-mine");
  if (mentionsMe(m)) li.classList.add("is-mention");
  if (m.deleted) li.classList.add("is-deleted");

  const row = make("div", "message-row");
  if (Number.isInteger(m.id)) row.tabIndex = -1;
  row.append(avatarFor(author));

  const stamp = make("span", "message-stamp", shortTime(time));
  stamp.setAttribute("aria-hidden", "true");
  row.append(stamp);

  const metaLine = make("div", "message-meta");
  if (author) {
    // Opens the person's card (people.js); a deleted account is plain text.
    const name = button(author.username, "message-author", "person");
    name.dataset.user = String(author.id);
    name.setAttribute("aria-haspopup", "dialog");
    name.tabIndex = -1;
    metaLine.append(name);
  } else {
    metaLine.append(make("span", "message-author is-deleted", "Deleted user"));
  }
  const timeEl = make("time", "message-time", timeFormat.format(time));
  timeEl.dateTime = time.toISOString();
  timeEl.title = fullFormat.format(time);
  metaLine.append(timeEl);
  row.append(metaLine);

  if (context === "room" && Number.isInteger(m.reply_to)) row.append(threadNote());

  const content = make("div", "message-content");
  if (m.deleted) {
    content.append(make("div", "message-body is-deleted", "This message was deleted"));
  } else if (m.text || m.html || attachmentsOf(m).length === 0) {
    // (A message of files only has no line of text to show.)
    const formatted = typeof m.html === "string" && m.html !== "";
    const body = make("div", formatted ? "message-body is-formatted" : "message-body");
    if (formatted) appendFormatted(body, m.html);
    else appendLinkified(body, m.text);
    content.append(body);
    if (m.edited_at) appendEdited(content, body, m);
  }
  row.append(content);
  // Outside the content: an open editor hides the text, not the files.
  const files = attachmentList(m);
  if (files) row.append(files);

  const reactions = m.deleted ? null : reactionsFor(m);
  if (reactions) row.append(reactions);
  const summary = context === "room" ? threadSummary(m) : null;
  if (summary) row.append(summary);
  const actions = actionsFor(m, context);
  if (actions) row.append(actions);

  li.append(row);
  return li;
}

// --------------------------------------------------------------- list

// Decides, from the previous <li>, whether this one starts a new day and
// whether it continues the same author's group (same author, < 5 min). A
// list with data-follows (the thread's replies) takes its first day from
// the last line of the list it follows (the root).
export function regroup(li) {
  if (!li) return;
  const prev = li.previousElementSibling;
  const follows = li.parentElement && li.parentElement.dataset.follows;
  const dayPrev = prev || (follows ? document.getElementById(follows)?.lastElementChild : null) || null;
  const time = Number(li.dataset.time);
  const prevTime = prev ? Number(prev.dataset.time) : NaN;
  const newDay = !dayPrev || dayKey(time) !== dayKey(Number(dayPrev.dataset.time));
  const continues =
    Boolean(prev) &&
    !newDay &&
    li.dataset.author !== "deleted" &&
    prev.dataset.author === li.dataset.author &&
    Math.abs(time - prevTime) < GROUP_WINDOW_MS &&
    !prev.classList.contains("is-failed");
  li.classList.toggle("is-continuation", continues);
  li.classList.toggle("is-first", !continues);

  let divider = li.querySelector(":scope > .day-divider");
  if (newDay) {
    if (!divider) {
      divider = make("div", "day-divider");
      li.prepend(divider);
    }
    const label = dayLabel(time);
    if (divider.textContent !== label) divider.textContent = label;
  } else if (divider) {
    divider.remove();
  }
  li.classList.toggle("has-day", newDay);
}

// Where a confirmed message with this id goes: before the first confirmed
// message with a larger id, and always before pending ones.
function slotFor(id) {
  if (id > page.maxId) return el.list.querySelector(":scope > li[data-pending]");
  let node = el.list.lastElementChild;
  let before = null;
  while (node) {
    if (!node.dataset.pending && Number(node.dataset.id) < id) return node.nextElementSibling;
    before = node;
    node = node.previousElementSibling;
  }
  return before;
}

export function noteSeen(room, id) {
  if (id > (lastSeen.get(room) || 0)) lastSeen.set(room, id);
}

// Renders a confirmed message of the open conversation once, in id order.
// False when already shown or not of this conversation.
export function insertMessage(m) {
  if (!isMessage(m) || rendered.has(m.id) || roomOf(m) !== page.current) return false;
  const li = buildMessage(m);
  li.dataset.id = String(m.id);
  el.list.insertBefore(li, slotFor(m.id));
  rendered.set(m.id, li);
  known.set(m.id, m);
  page.maxId = Math.max(page.maxId, m.id);
  page.minId = Math.min(page.minId, m.id);
  noteSeen(page.current, m.id);
  regroup(li);
  regroup(li.nextElementSibling);
  return true;
}

// A changed message (edit, delete, reaction, a new thread summary)
// replaces its lines in place: in the open conversation and in the thread
// panel, wherever it is shown.
export function replaceMessage(m) {
  if (!isMessage(m)) return;
  for (const view of views) replaceIn(view, m);
}

function replaceIn(view, m) {
  const old = view.rendered.get(m.id);
  if (!old) return;
  view.known.set(m.id, m);
  if (view.onReplace) view.onReplace(m);
  if (old.classList.contains("is-editing")) return; // applied when the editor closes
  if (page.picker && page.picker.li === old) closePicker();
  const focused = old.contains(document.activeElement) ? document.activeElement : null;
  const li = buildMessage(m, old.dataset.context);
  li.dataset.id = String(m.id);
  for (const name of ["is-highlighted"]) li.classList.toggle(name, old.classList.contains(name));
  old.replaceWith(li);
  view.rendered.set(m.id, li);
  regroup(li);
  regroup(li.nextElementSibling);
  if (focused) restoreFocus(li, focused);
}

function restoreFocus(li, was) {
  const action = was.dataset ? was.dataset.action : "";
  let target = null;
  if (action === "toggle-reaction") {
    target = [...li.querySelectorAll('[data-action="toggle-reaction"]')].find((b) => b.dataset.emoji === was.dataset.emoji);
  } else if (action) {
    target = li.querySelector(`[data-action="${action}"]`);
  }
  (target || li.querySelector(".message-row")).focus({ preventScroll: true });
}

// Messages that are new to this page (live, acked or caught up after a
// reconnect): render, settle pending copies, then follow or offer to.
export function addNew(list, acked) {
  let added = 0;
  let mine = false;
  for (const m of list) {
    if (roomOf(m) !== page.current) {
      if (!acked) otherRoomMessage(m);
      continue;
    }
    touchRoom(page.current, m);
    if (!insertMessage(m)) continue;
    added += 1;
    if (isMine(m)) {
      mine = true;
      if (!acked) settlePendingFor(m);
    } else {
      announce(m);
      if (m.author) typers.delete(m.author.id);
    }
  }
  if (!added) return;
  renderTyping();
  if (!mine && pageHidden()) {
    const room = rooms.get(page.current);
    if (room) {
      room.unread = Math.min(UNREAD_CAP, (room.unread || 0) + added);
      renderRooms();
    }
  }
  if (page.pinned || mine) {
    scrollToBottom();
  } else {
    el.newMessages.hidden = false;
  }
  scheduleRead();
}

// A short spoken line per message from someone else: the list itself is
// not a live region, so loading history is not read out. The region exists
// from the start (screen readers ignore regions created with content).
const announcer = make("div", "visually-hidden");
announcer.setAttribute("role", "log");
announcer.setAttribute("aria-live", "polite");
el.form.after(announcer);

export function announce(m) {
  if (!page.loaded) return;
  announcer.append(make("p", "", `${m.author ? m.author.username : "Deleted user"}: ${summaryText(m)}`));
  while (announcer.childElementCount > 3) announcer.firstElementChild.remove();
}

// Empties the list for another conversation (or a fresh load of this one).
export function resetList() {
  page.viewSeq += 1;
  rendered.clear();
  known.clear();
  el.list.replaceChildren();
  page.maxId = 0;
  page.minId = Infinity;
  page.loaded = false;
  page.loadingLatest = false;
  page.loadingOlder = false;
  page.loadingNewer = false;
  page.catchingUp = false;
  page.reachedStart = false;
  page.reachedEnd = true;
  page.pinned = true;
  el.newMessages.hidden = true;
  el.scroller.classList.remove("is-loaded");
  setHistoryStatus("");
  closePicker();
  // Unsent messages of this conversation come back below its history.
  for (const entry of pending.values()) {
    if (entry.room === page.current && !entry.thread) el.list.append(entry.li);
  }
  for (const li of el.list.children) regroup(li);
}
