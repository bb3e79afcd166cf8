// chatroom — the Discover page's chat, who is online, the profile card, direct
// messages from it, and who is typing.
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { ONLINE_LIST_LIMIT } from "./config.js";
import { HISTORY_TIMEOUT_MS, TYPING_SHOWN_MS, el, me, online, page, rooms, socket, typers } from "./state.js";
import { api, button, errorMessage, keepingFocus, make, roomOf } from "./util.js";
import { addRoom, openRoom, validRoom } from "./conversations.js";

// -------------------------------------------------- presence and people

let onlineCount = 0;

function renderOnline() {
  const people = [...online.values()].sort((a, b) => {
    const x = a.username.toLowerCase();
    const y = b.username.toLowerCase();
    return x < y ? -1 : x > y ? 1 : a.id - b.id;
  });
  const items = people.map((user) => {
    const li = make("li", "online-item");
    const b = button("", "online-person", "person");
    b.dataset.user = String(user.id);
    b.setAttribute("aria-haspopup", "dialog");
    const avatar = make("span", "online-avatar");
    const img = make("img", "avatar avatar-sm");
    img.src = user.avatar_url;
    img.dataset.userId = String(user.id);
    img.alt = "";
    img.width = 32;
    img.height = 32;
    img.decoding = "async";
    avatar.append(img);
    b.append(avatar, make("span", "online-name", user.username));
    if (user.id === me.id) b.append(make("span", "online-you", "(you)"));
    li.append(b);
    return li;
  });
  keepingFocus(el.online, "data-user", () => el.online.replaceChildren(...items));

  const total = Math.max(onlineCount, online.size);
  el.onlineCount.textContent = String(total);
  el.onlineCountToggle.textContent = String(total);
  let more = el.sidebar.querySelector(".online-more");
  if (total > online.size) {
    if (!more) {
      more = make("p", "online-more");
      el.online.after(more);
    }
    more.textContent = `and ${total - online.size} more`;
  } else if (more) {
    more.remove();
  }
}

const validUser = (u) => Boolean(u) && Number.isInteger(u.id) && typeof u.username === "string";

socket.on("presence", (snapshot) => {
  online.clear();
  for (const user of (snapshot && snapshot.online) || []) {
    if (validUser(user)) online.set(user.id, user);
  }
  onlineCount = snapshot && Number.isInteger(snapshot.count) ? snapshot.count : online.size;
  renderOnline();
  // The list sent on connect is short; a room of up to ONLINE_LIST_LIMIT is listed in full on request.
  if (onlineCount <= ONLINE_LIST_LIMIT && online.size < onlineCount) refreshOnline(0);
});

socket.on("presence_diff", (diff) => {
  if (!diff) return;
  for (const user of diff.left || []) {
    if (!validUser(user)) continue;
    online.delete(user.id);
    typers.delete(user.id);
  }
  for (const user of diff.joined || []) {
    if (validUser(user)) online.set(user.id, user);
  }
  onlineCount = Number.isInteger(diff.count) ? diff.count : online.size;
  renderOnline();
  renderTyping();
  if (onlineCount <= ONLINE_LIST_LIMIT && online.size < onlineCount) refreshOnline(2000);
});

let refreshing = null;
function refreshOnline(spreadMs) {
  if (refreshing) return;
  // Spread out, so a whole room is not asking at the same moment.
  refreshing = setTimeout(async () => {
    try {
      const reply = await socket.timeout(HISTORY_TIMEOUT_MS).emitWithAck("presence", {});
      if (reply && reply.ok) {
        online.clear();
        for (const user of reply.online || []) {
          if (validUser(user)) online.set(user.id, user);
        }
        onlineCount = Number.isInteger(reply.count) ? reply.count : online.size;
        renderOnline();
      }
    } catch {
      // Disconnected meanwhile: the next connect sends a fresh list.
    } finally {
      refreshing = null;
    }
  }, 100 + Math.random() * spreadMs);
}

// The profile card: a person of the Online list or the author of a message
// line (docs/page.md, "Person cards"), with whether they are online, when
// they joined, "Message" (opens the direct conversation) and, for admins,
// "Suspend". `cardAnchor` is what opened it: focus goes back there.
let cardUser = null;
let cardAnchor = null;
const cardHome = el.card.parentElement; // the Online list's sidebar
const cardMeta = document.getElementById("profile-card-meta");
const joinedFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

function cardMetaText(user, joined) {
  const parts = [online.has(user.id) ? "Online" : "Offline"];
  const time = joined ? Date.parse(joined) : NaN;
  if (!Number.isNaN(time)) parts.push(`Joined ${joinedFormat.format(time)}`);
  return parts.join(" · ");
}

// When they joined is not in the message's author: asked once per person.
const joinedAt = new Map(); // user id → created_at
async function fillJoined(user) {
  if (!cardMeta) return;
  cardMeta.textContent = cardMetaText(user, joinedAt.get(user.id));
  if (joinedAt.has(user.id)) return;
  const res = await api("GET", `/api/v1/users/${encodeURIComponent(user.username)}`);
  const found = res.ok && res.data && res.data.user;
  if (!found || typeof found.created_at !== "string") return;
  joinedAt.set(user.id, found.created_at);
  if (cardUser && cardUser.id === user.id) cardMeta.textContent = cardMetaText(user, found.created_at);
}

// By a message line, the card floats over the chat (a sheet at the bottom
// on a phone); from the Online list it sits under the person.
function placeCard(anchor, floating) {
  if (!floating) {
    if (el.card.parentElement !== cardHome) el.online.after(el.card);
    el.card.classList.remove("is-floating");
    el.card.style.left = "";
    const item = anchor.closest("li");
    el.card.style.top = `${item.offsetTop + item.offsetHeight + 4}px`;
    return;
  }
  if (el.card.parentElement !== document.body) document.body.append(el.card);
  el.card.classList.add("is-floating");
  if (window.matchMedia("(max-width: 900px)").matches) {
    // A sheet across the bottom (app.css).
    el.card.style.top = "";
    el.card.style.left = "";
    return;
  }
  const rect = anchor.getBoundingClientRect();
  const width = el.card.offsetWidth || 256;
  const height = el.card.offsetHeight || 240;
  const left = Math.max(8, Math.min(rect.left, window.innerWidth - width - 8));
  const below = rect.bottom + 4;
  const top = below + height > window.innerHeight - 8 ? Math.max(8, rect.top - height - 4) : below;
  el.card.style.left = `${left}px`;
  el.card.style.top = `${top}px`;
}

function openCard(user, anchor, floating = false) {
  cardUser = user;
  cardAnchor = anchor;
  el.cardAvatar.src = user.avatar_url;
  el.cardName.textContent = user.username;
  fillJoined(user);
  el.cardStatus.textContent = user.id === me.id ? "This is you." : "";
  el.cardDm.hidden = user.id === me.id;
  el.cardDm.disabled = false;
  el.cardSuspend.hidden = !me.isAdmin || user.id === me.id;
  el.cardSuspend.disabled = false;
  el.cardSuspend.textContent = "Suspend";
  el.cardSuspend.dataset.state = "active";
  el.card.hidden = false;
  placeCard(anchor, floating);
  (el.cardDm.hidden ? el.cardClose : el.cardDm).focus({ preventScroll: floating });
}

export function closeCard(refocus) {
  if (el.card.hidden) return;
  el.card.hidden = true;
  // The Online list redraws its buttons: find the person's again there.
  let anchor = cardAnchor && cardAnchor.isConnected ? cardAnchor : null;
  if (!anchor && cardUser && cardHome.contains(cardAnchor)) anchor = el.online.querySelector(`[data-user="${cardUser.id}"]`);
  if (refocus && anchor) anchor.focus({ preventScroll: true });
  cardUser = null;
  cardAnchor = null;
}

// An author's name (a button) or avatar on a message line.
const PERSON = '.message-author[data-action="person"], .message-row > img.avatar';
function onPersonClick(event) {
  const target = event.target.closest(PERSON);
  if (!target) return;
  const li = target.closest("li.message");
  const name = li && li.querySelector('.message-author[data-action="person"]');
  if (!name) return;
  const id = Number(name.dataset.user);
  const avatar = li.querySelector(".message-row > img.avatar");
  const user = online.get(id) || { id, username: name.textContent, avatar_url: avatar ? avatar.src : "" };
  if (cardUser && cardUser.id === id && cardAnchor === name) closeCard(false);
  else openCard(user, name, true);
}
el.list.addEventListener("click", onPersonClick);
el.threadScroller.addEventListener("click", onPersonClick);

el.online.addEventListener("click", (event) => {
  const b = event.target.closest("button[data-user]");
  if (!b) return;
  const user = online.get(Number(b.dataset.user));
  if (!user) return;
  if (cardUser && cardUser.id === user.id) closeCard(false);
  else openCard(user, b);
});

el.cardClose.addEventListener("click", () => closeCard(true));

el.card.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    event.stopPropagation();
    closeCard(true);
  }
});

document.addEventListener("click", (event) => {
  if (el.card.hidden || el.card.contains(event.target) || el.online.contains(event.target)) return;
  if (event.target.closest && event.target.closest(PERSON)) return;
  closeCard(false);
});

export async function openDm(username) {
  const res = await api("POST", "/api/v1/dms", { username });
  if (!res.ok || !res.data || !validRoom(res.data.room)) {
    return errorMessage(res.error, "Could not open the conversation.");
  }
  addRoom(res.data.room, !rooms.has(res.data.room.id));
  openRoom(res.data.room.id);
  return "";
}

el.cardDm.addEventListener("click", async () => {
  if (!cardUser) return;
  el.cardDm.disabled = true;
  const problem = await openDm(cardUser.username);
  el.cardDm.disabled = false;
  if (problem) el.cardStatus.textContent = problem;
  else closeCard(false);
});

el.cardSuspend.addEventListener("click", async () => {
  if (!cardUser) return;
  const suspend = el.cardSuspend.dataset.state !== "suspended";
  el.cardSuspend.disabled = true;
  const res = await api(suspend ? "PUT" : "DELETE", `/api/v1/admin/users/${encodeURIComponent(cardUser.username)}/suspension`);
  el.cardSuspend.disabled = false;
  if (!res.ok) {
    el.cardStatus.textContent = errorMessage(res.error, "That did not work.");
    return;
  }
  el.cardSuspend.dataset.state = suspend ? "suspended" : "active";
  el.cardSuspend.textContent = suspend ? "Reinstate" : "Suspend";
  el.cardStatus.textContent = suspend ? `${cardUser.username} is suspended.` : `${cardUser.username} is reinstated.`;
});

// ------------------------------------------------------------- typing

let typingTimer = 0;

export function renderTyping() {
  const now = Date.now();
  for (const [id, entry] of typers) {
    if (entry.until <= now) typers.delete(id);
  }
  const names = [...typers.values()].map((entry) => entry.username);
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = "Several people are typing…";
  if (el.typing.textContent !== text) el.typing.textContent = text;

  clearTimeout(typingTimer);
  if (typers.size) {
    const next = Math.min(...[...typers.values()].map((entry) => entry.until));
    typingTimer = setTimeout(renderTyping, Math.max(50, next - now));
  }
}

socket.on("typing", (payload) => {
  const user = payload && payload.user;
  if (!validUser(user) || user.id === me.id || roomOf(payload) !== page.current) return;
  typers.delete(user.id); // re-inserted: the order is who typed first
  typers.set(user.id, { username: user.username, until: Date.now() + TYPING_SHOWN_MS });
  renderTyping();
});
