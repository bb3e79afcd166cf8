// chatroom — the Discover page's chat, the conversation list (rooms and direct
// messages), switching between them, read markers and views.
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { UNREAD_CAP } from "./config.js";
import { GLOBAL, PAGE, el, lastSeen, page, rooms, socket, typers } from "./state.js";
import { api, ask, button, errorMessage, isMine, keepingFocus, make, roomOf, wide } from "./util.js";
import { avatarFor, noteSeen, resetList } from "./messages.js";
import { loadAround, loadLatest } from "./history.js";
import { closeSearchPanel } from "./search.js";
import { renderTyping } from "./people.js";
import { closeDrawers } from "./drawers.js";
import { renderTray } from "./uploads.js";
import { loadDraft, saveDraft } from "./drafts.js";
import { updateComposer } from "./sending.js";
import { renderReadOnly } from "./live-signals.js";
import { showAddress } from "./addresses.js";
import { beforeRead, mutedIcon, renderNotifyState, weight } from "./notifications.js";

// ------------------------------------------------------ conversations

export function roomLabel(room) {
  if (!room) return "";
  if (room.kind === "global" || room.id === GLOBAL) return "Global room";
  return typeof room.name === "string" && room.name ? room.name : room.id;
}

function normaliseRoom(room, previous) {
  return {
    ...previous,
    ...room,
    unread: Number.isInteger(room.unread) ? room.unread : previous ? previous.unread || 0 : 0,
    mentions: Number.isInteger(room.mentions) ? room.mentions : previous ? previous.mentions || 0 : 0,
    last_read_id: Number.isInteger(room.last_read_id) ? room.last_read_id : previous ? previous.last_read_id || 0 : 0,
  };
}

rooms.set(GLOBAL, { id: GLOBAL, kind: "global", name: "Global room", topic: "", member_count: null, unread: 0, mentions: 0, last_read_id: 0 });

export const validRoom = (r) => Boolean(r) && typeof r.id === "string" && r.id !== "";
let localChanges = 0; // rooms joined, created or left here: older lists from the server are stale

export function addRoom(room, fresh) {
  if (!validRoom(room)) return null;
  localChanges += 1;
  const merged = normaliseRoom(fresh ? { ...room, unread: 0, mentions: 0 } : room, rooms.get(room.id));
  rooms.set(room.id, merged);
  return merged;
}

// A message for a conversation that is not open: counts and order.
export function otherRoomMessage(m) {
  const id = roomOf(m);
  const room = rooms.get(id);
  noteSeen(id, m.id);
  if (!room) {
    scheduleRoomsRefresh();
    return;
  }
  room.last_activity_at = m.created_at || room.last_activity_at;
  if (!isMine(m) && m.id > (room.last_read_id || 0)) room.unread = Math.min(UNREAD_CAP, (room.unread || 0) + 1);
  renderRooms();
}

export function touchRoom(id, m) {
  const room = rooms.get(id);
  noteSeen(id, m.id);
  if (room && m.created_at && room.last_activity_at !== m.created_at) {
    room.last_activity_at = m.created_at;
    renderRooms();
  }
}

function activity(room) {
  const t = room.last_activity_at ? Date.parse(room.last_activity_at) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

function countText(n) {
  return n >= UNREAD_CAP ? `${UNREAD_CAP - 1}+` : String(n);
}

function conversationItem(room) {
  const li = make("li", "conv-item");
  li.dataset.room = room.id;
  const b = button("", "conv", "open-room");
  b.dataset.room = room.id;
  if (room.id === page.current) b.setAttribute("aria-current", "true");
  if (room.kind === "dm") {
    b.append(avatarFor(room.peer || null, 24));
  } else {
    const hash = make("span", "conv-hash", "#");
    hash.setAttribute("aria-hidden", "true");
    b.append(hash);
  }
  b.append(make("span", "conv-name", roomLabel(room)));
  const parts = [roomLabel(room)];
  if (room.muted) {
    // Dimmed, with a crossed bell; its unread count shows but weighs nothing.
    b.classList.add("is-muted");
    b.append(mutedIcon());
    parts.push("muted");
  }
  if (room.mentions > 0) {
    const badge = make("span", "conv-mention", `@${room.mentions > 1 ? room.mentions : ""}`);
    badge.setAttribute("aria-hidden", "true");
    b.append(badge);
    parts.push(room.mentions === 1 ? "1 mention" : `${room.mentions} mentions`);
  }
  if (room.unread > 0) {
    const badge = make("span", room.muted ? "conv-unread is-muted" : "conv-unread", countText(room.unread));
    badge.setAttribute("aria-hidden", "true");
    b.append(badge);
    parts.push(`${room.unread >= UNREAD_CAP ? `${UNREAD_CAP} or more` : room.unread} unread`);
    if (!room.muted) b.classList.add("has-unread");
  }
  b.setAttribute("aria-label", parts.join(", "));
  li.append(b);
  return li;
}

export function renderRooms() {
  const all = [...rooms.values()];
  const byActivity = (a, b) => activity(b) - activity(a) || roomLabel(a).localeCompare(roomLabel(b));
  const publicRooms = all.filter((r) => r.kind !== "dm" && r.id !== GLOBAL).sort(byActivity);
  const dms = all.filter((r) => r.kind === "dm").sort(byActivity);
  const globalRoom = rooms.get(GLOBAL);
  keepingFocus(el.nav, "data-room", () => {
    el.roomList.replaceChildren(...[globalRoom, ...publicRooms].filter(Boolean).map(conversationItem));
    el.dmList.replaceChildren(...dms.map(conversationItem));
  });
  el.dmEmpty.hidden = dms.length > 0;

  const elsewhere = all.filter((r) => r.id !== page.current).reduce((sum, r) => sum + weight(r), 0);
  el.navToggleCount.hidden = elsewhere === 0;
  el.navToggleCount.textContent = countText(elsewhere);
  renderHeader();
}

function onConversationClick(event) {
  const b = event.target.closest("button[data-room]");
  if (b) openRoom(b.dataset.room);
}
el.roomList.addEventListener("click", onConversationClick);
el.dmList.addEventListener("click", onConversationClick);

function renderHeader() {
  const room = rooms.get(page.current) || { id: page.current, name: page.current, kind: "public" };
  const label = roomLabel(room);
  if (el.chatName.textContent !== label) el.chatName.textContent = label;
  el.chatHash.textContent = room.kind === "dm" ? "@" : "#";
  const topic = room.kind === "dm" ? "Direct message" : room.kind === "global" ? "Everyone on this server" : room.topic || "";
  if (el.chatTopic.textContent !== topic) el.chatTopic.textContent = topic;
  const members = Number.isInteger(room.member_count) && room.kind !== "dm"
    ? `${room.member_count} ${room.member_count === 1 ? "member" : "members"}`
    : "";
  if (el.chatMembers.textContent !== members) el.chatMembers.textContent = members;
  el.leave.hidden = room.kind !== "public";
  const short = label.length <= 16;
  el.input.placeholder =
    room.id === GLOBAL || !short ? "Write a message…" : `Write to ${room.kind === "dm" ? "@" : "#"}${label}…`;
  renderNotifyState();
  renderReadOnly(room);
}

export function setNotice(text) {
  if (el.notice.textContent !== text) el.notice.textContent = text;
}

// Opens a conversation in the chat view; `around` opens it at a message,
// `notice` says something about why (it stays until the next switch). The
// Message box shows the new conversation's own draft.
export function openRoom(id, options = {}) {
  const around = options.around;
  closeDrawers();
  showView("chat");
  showAddress(id, around, options); // its address in the address bar (addresses.js)
  if (id === page.current && !around && page.loaded) {
    if (wide()) el.input.focus({ preventScroll: true });
    return;
  }
  if (id !== page.current) {
    // What was shown is read, also when the switch comes before the timer.
    clearTimeout(readTimer);
    markRead();
    saveDraft(page.current, el.input.value);
    el.input.value = loadDraft(id);
  }
  setNotice(options.notice || "");
  page.current = id;
  page.lastTypingSent = 0;
  typers.clear();
  renderTyping();
  resetList();
  renderTray();
  updateComposer();
  renderRooms();
  if (rooms.has(id)) refreshRoomInfo(id);
  else scheduleRoomsRefresh();
  // More unread than one page shows: open where reading stopped, not at the
  // newest page (whose "New messages" line would skip the rest).
  const room = rooms.get(id);
  const backlog = !around && room && room.last_read_id > 0 && (room.unread || 0) >= PAGE;
  if (around) loadAround(around);
  else if (backlog && socket.connected) loadAround(room.last_read_id, { atMarker: true });
  else if (socket.connected) loadLatest();
  if (wide() && !around) el.input.focus({ preventScroll: true });
}

// Fresh name, topic and member count for the header.
async function refreshRoomInfo(id) {
  const res = await api("GET", `/api/v1/rooms/${encodeURIComponent(id)}`);
  const room = rooms.get(id);
  if (!res.ok || !res.data || !validRoom(res.data.room) || !room) return;
  // The counts and the read marker are ours to keep (the server's room object has none).
  const fields = { ...res.data.room };
  delete fields.unread;
  delete fields.mentions;
  delete fields.last_read_id;
  Object.assign(room, fields);
  renderRooms();
}

let roomsRefreshTimer = 0;
let roomsKnown = false; // the server's list (and read markers) arrived once
export function scheduleRoomsRefresh() {
  clearTimeout(roomsRefreshTimer);
  roomsRefreshTimer = setTimeout(refreshRooms, 300);
}

// The server's view of my conversations: order, unread and mention counts.
export async function refreshRooms() {
  const started = localChanges;
  const res = await api("GET", "/api/v1/me/rooms");
  if (!res.ok || !res.data || !Array.isArray(res.data.rooms)) return;
  if (started !== localChanges) {
    scheduleRoomsRefresh();
    return;
  }
  const next = new Map();
  for (const room of res.data.rooms) {
    if (validRoom(room)) next.set(room.id, normaliseRoom(room, null));
  }
  if (!next.has(GLOBAL)) next.set(GLOBAL, rooms.get(GLOBAL));
  rooms.clear();
  for (const [id, room] of next) rooms.set(id, room);
  roomsKnown = true;
  if (!rooms.has(page.current)) {
    openRoom(GLOBAL, { notice: "You are no longer in that conversation." });
    return;
  }
  renderRooms();
  scheduleRead();
}

socket.on("room_joined", (payload) => {
  const room = payload && payload.room;
  if (!validRoom(room)) return;
  addRoom(room, !rooms.has(room.id));
  renderRooms();
});

socket.on("room_left", (payload) => {
  const id = payload && (typeof payload.room === "string" ? payload.room : payload.room && payload.room.id);
  if (!id || id === GLOBAL || !rooms.has(id)) return;
  const label = roomLabel(rooms.get(id));
  rooms.delete(id);
  localChanges += 1;
  if (id === page.current) {
    openRoom(GLOBAL, { notice: `You left #${label}.` });
  } else {
    renderRooms();
  }
});

el.leave.addEventListener("click", async () => {
  const room = rooms.get(page.current);
  if (!room || room.kind !== "public") return;
  el.leave.disabled = true;
  const res = await api("DELETE", `/api/v1/rooms/${encodeURIComponent(room.id)}/membership`);
  el.leave.disabled = false;
  if (!res.ok && res.status !== 404) {
    setNotice(errorMessage(res.error, "Could not leave the room."));
    return;
  }
  rooms.delete(room.id);
  localChanges += 1;
  openRoom(GLOBAL, { notice: `You left #${roomLabel(room)}.` });
});

// ------------------------------------------------------- read markers

export function pageHidden() {
  return document.hidden || page.view !== "chat";
}

let readTimer = 0;
export function scheduleRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(markRead, 300);
}

// The open conversation, shown to the reader, is read up to its newest line.
async function markRead() {
  const room = rooms.get(page.current);
  // (Not before the server's markers are in: the "New messages" line needs the real one.)
  if (!room || pageHidden() || !page.loaded || !roomsKnown) return;
  beforeRead(room);
  if (room.unread || room.mentions) {
    room.unread = 0;
    room.mentions = 0;
    renderRooms();
  }
  if (!page.maxId || page.maxId <= (room.last_read_id || 0) || !socket.connected) return;
  const id = page.maxId;
  room.last_read_id = id;
  const ack = await ask("read", { room: room.id, id });
  if (ack && ack.ok && Number.isInteger(ack.last_read_id)) {
    room.last_read_id = Math.max(room.last_read_id || 0, ack.last_read_id);
  }
}

// A marker moved (maybe on another device).
socket.on("read", (payload) => {
  const room = payload && rooms.get(payload.room);
  if (!room || !Number.isInteger(payload.last_read_id)) return;
  room.last_read_id = Math.max(room.last_read_id || 0, payload.last_read_id);
  if (room.last_read_id >= (lastSeen.get(room.id) || 0)) {
    room.unread = 0;
    room.mentions = 0;
    renderRooms();
  } else {
    scheduleRoomsRefresh();
  }
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) scheduleRead();
});

// ------------------------------------------------------------- views

export function showView(name) {
  page.view = name;
  el.chat.hidden = name !== "chat";
  el.directory.hidden = name !== "directory";
  el.threadsView.hidden = name !== "threads";
  el.peopleView.hidden = name !== "people";
  if (name !== "search") closeSearchPanel();
  el.openDirectory.setAttribute("aria-pressed", String(name === "directory"));
  el.openSearch.setAttribute("aria-pressed", String(name === "search"));
  el.openThreads.setAttribute("aria-pressed", String(name === "threads"));
  el.openPeople.setAttribute("aria-pressed", String(name === "people"));
  if (name === "chat") scheduleRead();
}

export function backToChat() {
  showView("chat");
  if (wide()) el.input.focus({ preventScroll: true });
}
