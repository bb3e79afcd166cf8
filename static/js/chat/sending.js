// chatroom — the Discover page's chat, sending messages and thread replies
// (pending lines, acks, retries) and the composer.
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { MAX_CHARS, MAX_CLIENT_ID, MESSAGE_RULE } from "./config.js";
import { ACK_TIMEOUT_MS, NEAR_LIMIT, TYPING_SEND_EVERY_MS, el, me, page, pending, socket } from "./state.js";
import { button, errorMessage, isMessage, make, ownAvatarUrl, roomOf } from "./util.js";
import { addNew, buildMessage, regroup } from "./messages.js";
import { reloadLatest, scrollToBottom } from "./history.js";
import { touchRoom } from "./conversations.js";
import { replySettled } from "./threads.js";
import { onTrayChange, readyUploads, takeReady, uploadsInFlight } from "./uploads.js";
import { saveDraft } from "./drafts.js";
import { attachMentions } from "./mentions-autocomplete.js";
import { attachComposerEmoji } from "./emoji-picker.js";

// ------------------------------------------------------------ sending

// Each message gets a client_id (docs/rooms.md, "Messages": 1 to
// MAX_CLIENT_ID of A–Z a–z 0–9 _ -) that the server echoes in the ack and in
// the broadcast of that message: the pending copy is matched by it, never by
// its text. 128 random bits in hex; crypto.randomUUID() would need a secure
// context, getRandomValues does not.
function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0"))
    .join("")
    .slice(0, MAX_CLIENT_ID);
}

function statusLine(entry) {
  let line = entry.li.querySelector(".message-status");
  if (!line) {
    line = make("div", "message-status");
    entry.li.querySelector(".message-row").append(line);
  }
  return line;
}

function setEntryState(entry, state, text) {
  entry.state = state;
  entry.li.classList.toggle("is-pending", state !== "failed");
  entry.li.classList.toggle("is-failed", state === "failed");
  const line = statusLine(entry);
  line.textContent = text;
  if (state === "failed") {
    const retry = button("Retry", "button button-sm");
    retry.addEventListener("click", () => deliver(entry));
    const discard = button("Discard", "button button-sm button-ghost");
    discard.addEventListener("click", () => {
      dropEntry(entry);
      (entry.thread ? el.threadInput : el.input).focus();
    });
    line.append(retry, discard);
  }
  if (entry.li.isConnected) regroup(entry.li.nextElementSibling);
}

function dropEntry(entry) {
  pending.delete(entry.key);
  const next = entry.li.nextElementSibling;
  entry.li.remove();
  regroup(next);
}

// The confirmed message replaces its pending copy (a reply: in the thread
// panel, and in the conversation too when it was also sent there).
function settle(entry, m) {
  dropEntry(entry);
  if (entry.thread) replySettled(m);
  if (entry.thread && m.in_room === false) return;
  if (roomOf(m) === page.current && page.reachedEnd) addNew([m], true);
  else touchRoom(roomOf(m), m);
}

// A message of ours arrived by broadcast before its ack (or after the ack
// timed out): drop the pending copy with its client_id. A broadcast with
// another client_id (or none) was sent elsewhere (another tab, the API).
export function settlePendingFor(m) {
  if (typeof m.client_id === "string") {
    const entry = pending.get(m.client_id);
    if (entry && entry.room === roomOf(m)) dropEntry(entry);
    return;
  }
  // History carries no client_id (it is never stored): a message caught up
  // after a reconnect can only be told by its text, and only from a copy
  // whose send got no answer.
  const thread = Number.isInteger(m.reply_to) ? m.reply_to : null;
  for (const entry of pending.values()) {
    if (
      entry.room === roomOf(m) &&
      (entry.thread || null) === thread &&
      (entry.state === "sending" || entry.timedOut) &&
      entry.text === m.text &&
      sameFiles(entry, m)
    ) {
      dropEntry(entry);
      return;
    }
  }
}

function sameFiles(entry, m) {
  const ids = Array.isArray(m.attachments) ? m.attachments.map((a) => a && a.id) : [];
  return ids.length === entry.attachments.length && entry.attachments.every((a, i) => a.id === ids[i]);
}

function errorText(error) {
  const code = error && error.code;
  if (code === "rate_limited") return "Not sent: you are sending messages too fast. Wait a moment, then retry.";
  if (code === "validation_failed" && error.fields && error.fields.attachments) {
    return "Not sent: its files were already sent, or are gone. Attach them again.";
  }
  if (code === "validation_failed") return `Not sent. ${MESSAGE_RULE}`;
  if (code === "forbidden" || code === "not_found") return "Not sent: you are not a member of this conversation.";
  const text = errorMessage(error, "");
  return text ? `Not sent: ${text}` : "Not sent.";
}

async function deliver(entry) {
  if (!socket.connected) {
    setEntryState(entry, "queued", "Waiting for the connection…");
    return;
  }
  entry.timedOut = false;
  setEntryState(entry, "sending", "Sending…");
  let ack;
  try {
    const payload = { text: entry.text, room: entry.room, client_id: entry.key };
    if (entry.attachments.length) payload.attachments = entry.attachments.map((a) => a.id);
    if (entry.thread) {
      payload.reply_to = entry.thread;
      payload.also_in_room = Boolean(entry.alsoInRoom);
    }
    ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck("message", payload);
  } catch {
    if (pending.get(entry.key) === entry) {
      entry.timedOut = true;
      setEntryState(entry, "failed", "Not sent: no answer from the server.");
    }
    return;
  }
  if (pending.get(entry.key) !== entry) return; // settled by the broadcast, or discarded
  if (ack && ack.ok && isMessage(ack.message)) {
    settle(entry, ack.message);
  } else {
    setEntryState(entry, "failed", errorText(ack && ack.error));
  }
}

export function flushQueued() {
  for (const entry of pending.values()) {
    if (entry.state === "queued") deliver(entry);
  }
}

// Shows `text` (with uploaded `attachments`) as a pending line at the end of
// `list` and sends it; a reply names its thread's root (`thread`) and
// whether it also goes to the room.
export function sendText(list, { text, room, attachments = [], thread = null, alsoInRoom = false }) {
  const key = newClientId();
  const li = buildMessage(
    {
      author: { id: me.id, username: me.username, avatar_url: ownAvatarUrl() },
      text,
      attachments,
      created_at: new Date().toISOString(),
    },
    thread ? "reply" : "room",
  );
  li.dataset.pending = key;
  list.append(li);
  regroup(li);
  const entry = { key, room, text, attachments, li, state: "sending", timedOut: false, thread, alsoInRoom };
  pending.set(key, entry);
  deliver(entry);
  return entry;
}

function send() {
  const text = el.input.value.trim();
  const room = page.current;
  if (uploadsInFlight(room) > 0) {
    el.uploadNote.textContent = "Waiting for uploads… Send again once they are done.";
    return;
  }
  if (text.length > MAX_CHARS) return;
  if (!text && readyUploads(room).length === 0) return;
  if (!page.reachedEnd) reloadLatest(); // sending from old history: back to the present
  sendText(el.list, { text, room, attachments: takeReady(room) });
  el.input.value = "";
  saveDraft(room, "");
  page.lastTypingSent = 0;
  updateComposer();
  scrollToBottom();
}

// ----------------------------------------------------------- composer

const autoSizes = typeof CSS !== "undefined" && CSS.supports && CSS.supports("field-sizing", "content");

export function updateComposer() {
  const input = el.input;
  if (!autoSizes) {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight + 2, 200)}px`;
  }
  const length = input.value.length;
  el.counter.textContent = length >= NEAR_LIMIT ? `${length} / ${MAX_CHARS}` : "";
  el.counter.classList.toggle("is-near", length >= NEAR_LIMIT && length < MAX_CHARS);
  el.counter.classList.toggle("is-limit", length >= MAX_CHARS);
  const empty = input.value.trim() === "" && readyUploads(page.current).length === 0;
  const waiting = uploadsInFlight(page.current) > 0;
  el.send.setAttribute("aria-disabled", String(empty || waiting || length > MAX_CHARS));
  el.send.title = waiting ? "Waiting for uploads…" : "";
  el.form.classList.toggle("is-waiting", waiting);
}

onTrayChange(updateComposer);

el.form.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
  el.input.focus();
});

// Enter: on a touch screen (coarse pointer, no hover: a phone's keyboard)
// it starts a new line and the Send button sends, as in Slack's and
// WhatsApp's apps; with a keyboard and mouse it sends, Shift+Enter adds a
// line (docs/page.md, "The composer").
const touchQuery = window.matchMedia("(pointer: coarse) and (hover: none)");

/** Whether Enter (without Shift) sends from a message box on this device. */
export function enterSends(event) {
  return (
    event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229 && !touchQuery.matches
  );
}

function describeEnter() {
  const touch = touchQuery.matches;
  document.body.classList.toggle("is-touch", touch);
  for (const box of [el.input, el.threadInput]) {
    if (box) box.setAttribute("enterkeyhint", touch ? "enter" : "send");
  }
  const hint = document.getElementById("composer-hint");
  if (hint) {
    hint.textContent = touch ? "Send with the Send button; Enter starts a new line" : "";
    if (!touch) {
      const key = (name) => make("kbd", "", name);
      hint.append(key("Enter"), " to send, ", key("Shift"), " + ", key("Enter"), " for a new line");
    }
  }
}
describeEnter();
touchQuery.addEventListener("change", describeEnter);

el.input.addEventListener("keydown", (event) => {
  if (enterSends(event)) {
    event.preventDefault();
    send();
  }
});

attachMentions(el.input, () => page.current);
const emojiButton = document.getElementById("emoji-button");
if (emojiButton) attachComposerEmoji(emojiButton, el.input);

el.input.addEventListener("input", () => {
  updateComposer();
  saveDraft(page.current, el.input.value);
  const now = Date.now();
  if (socket.connected && el.input.value.trim() && now - page.lastTypingSent >= TYPING_SEND_EVERY_MS) {
    page.lastTypingSent = now;
    socket.volatile.emit("typing", { room: page.current });
  }
});
