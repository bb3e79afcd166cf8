// chatroom — the Discover page's chat: browser notifications (direct messages
// and mentions), muting conversations, the unread total in the tab title
// and the "New messages" line (docs/page.md, "Notifications and unread").
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { baseTitle, el, me, page, rooms, socket } from "./state.js";
import { api, errorMessage, isMine, make, mentionsMe, roomOf } from "./util.js";
import { openRoom, pageHidden, renderRooms, roomLabel, setNotice } from "./conversations.js";
import { summaryText } from "./attachment-view.js";
import { regroup } from "./messages.js";
import { followsThread, threadInView, whenThreadsRefreshed } from "./threads.js";

// ------------------------------------------------------ notifications

const canNotify = typeof Notification === "function";

export function renderNotifyButton() {
  el.notifyButton.hidden = !canNotify || Notification.permission !== "default";
}

el.notifyButton.addEventListener("click", async () => {
  let permission = "denied";
  try {
    permission = await Notification.requestPermission();
  } catch {
    // an old browser without the promise form
  }
  renderNotifyButton();
  el.notifyStatus.textContent =
    permission === "granted"
      ? "Notifications are on for direct messages and mentions."
      : "Notifications stay off (the browser said no).";
});

const notified = new Set(); // message ids already notified (a DM that mentions you comes twice)

// Whether the person sees this message where it is: its thread in the
// panel, or its conversation open in the chat view (when it shows there),
// in a visible tab.
function seen(m) {
  const reply = Number.isInteger(m.reply_to);
  if (reply && threadInView(m.reply_to)) return true;
  return (!reply || m.in_room !== false) && roomOf(m) === page.current && !pageHidden();
}

function raise(m, title) {
  if (!canNotify || Notification.permission !== "granted" || notified.has(m.id)) return;
  notified.add(m.id);
  if (notified.size > 500) notified.delete(notified.values().next().value);
  try {
    const note = new Notification(title, {
      body: summaryText(m).slice(0, 160),
      tag: `message-${m.id}`,
    });
    note.addEventListener("click", () => {
      window.focus();
      // A reply that stays in its thread is found at its root.
      const at = m.in_room === false && Number.isInteger(m.reply_to) ? m.reply_to : m.id;
      openRoom(roomOf(m), { around: at });
      note.close();
    });
  } catch {
    // Some platforms only allow notifications from a service worker.
  }
}

function where(room) {
  if (!room) return "a conversation";
  return room.kind === "dm" ? "a direct message" : room.kind === "global" ? "the global room" : `#${roomLabel(room)}`;
}

// The `mention` event: always notifies (muted or not) unless seen.
export function notifyMention(m) {
  if (isMine(m) || seen(m)) return;
  const name = m.author ? m.author.username : "Someone";
  raise(m, `${name} mentioned you in ${where(rooms.get(roomOf(m)))}`);
}

// Every live `message`: a direct message, or a reply in a thread you
// follow, from someone else, notifies unless muted or seen; one that
// mentions you is left to `mention`.
export function notifyMessage(m) {
  if (isMine(m) || mentionsMe(m)) return;
  const id = roomOf(m);
  const room = rooms.get(id);
  if (room && room.muted) return;
  const dm = room ? room.kind === "dm" : id.startsWith("dm:");
  const reply = Number.isInteger(m.reply_to);
  if (!dm && !reply) return;
  const name = m.author ? m.author.username : "Deleted user";
  const title = reply ? `${name} replied in a thread in ${where(room)}` : name;
  if (dm || followsThread(m.reply_to)) {
    if (!seen(m)) raise(m, title);
    return;
  }
  // Following may be news to this page (a reply from another device): the
  // list of followed threads is fetched again after every reply.
  const arrived = Date.now();
  whenThreadsRefreshed(() => {
    if (Date.now() - arrived < 15000 && followsThread(m.reply_to) && !seen(m)) raise(m, title);
  });
}

// ------------------------------------------------------------- muting

// What a conversation adds to the totals: its unread count, or only its
// mentions once muted.
export function weight(room) {
  if (!room) return 0;
  return room.muted ? room.mentions || 0 : room.unread || 0;
}

const muteButton = document.getElementById("mute-room");

// A crossed bell, shown by a muted conversation in the list.
const SVG = "http://www.w3.org/2000/svg";
export function mutedIcon() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "conv-muted");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of ["M6 16V11a6 6 0 0 1 12 0v5l1.5 2h-15z", "M10 20a2 2 0 0 0 4 0", "M3 3l18 18"]) {
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

// The tab title and the header's Mute button; renderRooms calls it.
export function renderNotifyState() {
  let total = 0;
  for (const room of rooms.values()) total += weight(room);
  const title = total ? `(${total}) ${baseTitle}` : baseTitle;
  if (document.title !== title) document.title = title;
  if (!muteButton) return;
  const room = rooms.get(page.current);
  muteButton.hidden = !room;
  const muted = Boolean(room && room.muted);
  muteButton.setAttribute("aria-pressed", String(muted));
  muteButton.title = muted ? "Notify me about this conversation again" : "No notifications from this conversation but mentions";
}

function setMuted(id, muted) {
  const room = rooms.get(id);
  if (!room || Boolean(room.muted) === muted) return;
  room.muted = muted;
  renderRooms();
}

if (muteButton) {
  muteButton.addEventListener("click", async () => {
    const room = rooms.get(page.current);
    if (!room) return;
    const muted = !room.muted;
    setMuted(room.id, muted);
    muteButton.disabled = true;
    const res = await api(muted ? "PUT" : "DELETE", `/api/v1/rooms/${encodeURIComponent(room.id)}/mute`);
    muteButton.disabled = false;
    if (!res.ok) {
      setMuted(room.id, !muted);
      setNotice(errorMessage(res.error, muted ? "Could not mute this conversation." : "Could not unmute this conversation."));
    }
  });
}

// Muted or unmuted here, in another tab or on another device.
socket.on("muted", (payload) => {
  if (payload && typeof payload.room === "string") setMuted(payload.room, true);
});
socket.on("unmuted", (payload) => {
  if (payload && typeof payload.room === "string") setMuted(payload.room, false);
});

// ------------------------------------------------ the "New messages" line

// Where the line goes in the open conversation: above the first message by
// someone else after `after` (the read marker when the conversation was
// opened). `armed`: the next read of the open conversation places it.
const line = { room: null, after: null, armed: true, node: null };

function lineNode() {
  if (!line.node) {
    line.node = make("div", "unread-line");
    line.node.setAttribute("role", "separator");
    line.node.append(make("span", "unread-line-label", "New messages"));
  }
  return line.node;
}

function sameRoom() {
  if (line.room === page.current) return;
  line.room = page.current;
  line.after = null;
  line.armed = true;
  if (line.node) line.node.remove();
}

function firstUnread() {
  for (const li of el.list.children) {
    if (li.dataset.pending || !li.dataset.id) continue;
    if (Number(li.dataset.id) > line.after && li.dataset.author !== String(me.id)) return li;
  }
  return null;
}

function placeLine(scroll) {
  if (line.after === null) return;
  const li = firstUnread();
  const previous = line.node ? line.node.parentElement : null;
  if (!li) {
    if (line.node) line.node.remove();
    if (previous) regroup(previous);
    return;
  }
  const node = lineNode();
  if (previous !== li) {
    const day = li.querySelector(":scope > .day-divider");
    if (day) day.after(node);
    else li.prepend(node);
    if (previous && previous.isConnected) regroup(previous);
  }
  // Below the line a new group starts: the author is shown again.
  li.classList.remove("is-continuation");
  li.classList.add("is-first");
  if (!scroll) return;
  const top = node.getBoundingClientRect().top;
  const view = el.scroller.getBoundingClientRect();
  if (top < view.top || top > view.bottom - 24) {
    el.scroller.scrollTop += top - view.top - 8;
    page.pinned = false;
  }
}

// Called as the open conversation is about to be marked read (shown, in a
// visible tab), with its read marker before the move.
export function beforeRead(room) {
  sameRoom();
  if (!line.armed) return;
  line.armed = false;
  if (line.after !== null && line.node && line.node.isConnected) return;
  line.after = room.last_read_id || 0;
  placeLine(true);
  // Nothing unread: no line, and none for what arrives while reading.
  if (!(line.node && line.node.isConnected)) line.after = null;
}

// Lines come and go (history pages, edits redraw a line, a reload of the
// list): the line follows its message.
new MutationObserver(() => {
  sameRoom();
  if (line.after !== null) placeLine(false);
}).observe(el.list, { childList: true });

// Back to a hidden tab: new messages of the open conversation get a line,
// if it has none yet.
document.addEventListener("visibilitychange", () => {
  sameRoom();
  if (document.hidden && !(line.node && line.node.isConnected)) line.armed = true;
});
