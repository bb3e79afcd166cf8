// chatroom — the Discover page's chat, addresses (docs/page.md#addresses):
// every conversation and message has a URL under /discover; opening one
// puts it in the address bar, Back and Forward move between them, a
// message's "Copy link" gives its permalink, and a public room not joined
// yet (a shared link) offers "Join #room".
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { GLOBAL, HIGHLIGHT_MS, el, page, threadView } from "./state.js";
import { api, button, errorMessage, make, roomOf } from "./util.js";
import { addRoom, openRoom, renderRooms, validRoom } from "./conversations.js";
import { loadAround, reloadLatest } from "./history.js";
import { openThread } from "./threads.js";

// --------------------------------------------------------- addresses

/** The path of a conversation, or of one of its messages. */
export function addressOf(room, message) {
  // Room ids are [a-z0-9_-] or dm:<id>:<id>: nothing to escape but what a
  // future id might hold; the colons of a DM stay readable.
  const id = encodeURIComponent(room).replace(/%3A/gi, ":");
  if (Number.isInteger(message) && message > 0) return `/discover/${id}/${message}`;
  return room === GLOBAL ? "/discover" : `/discover/${id}`;
}

/** The absolute permalink of a message. */
export function permalink(m) {
  return new URL(addressOf(roomOf(m), m.id), window.location.origin).href;
}

// What the address bar holds for a view: the conversation, maybe a message
// (and, for a reply kept in its thread, its root), maybe "join first".
function entry(room, message, extra = {}) {
  return { chatroom: true, room, message: Number.isInteger(message) ? message : null, ...extra };
}

/**
 * Called by openRoom for every switch: pushes the conversation's address
 * (`how` = "push"), replaces the current entry ("replace": a conversation
 * one can no longer open) or leaves history alone ("none": Back/Forward
 * got us here). Opening a conversation ends a "join first" offer.
 */
export function showAddress(room, around, options = {}) {
  const how = options.address || (options.notice ? "replace" : "push");
  hideJoinOffer();
  if (how === "none") return;
  const path = addressOf(room, around);
  const state = entry(room, around);
  if (how === "replace" || window.location.pathname === path) window.history.replaceState(state, "", path);
  else window.history.pushState(state, "", path);
}

window.addEventListener("popstate", (event) => {
  const state = event.state;
  if (!state || !state.chatroom || typeof state.room !== "string") return;
  const around = Number.isInteger(state.message) ? state.message : undefined;
  if (state.preview) {
    openRoom(GLOBAL, { address: "none" });
    offerJoin(state.room, around);
    return;
  }
  if (state.room === page.current && around === undefined && page.loaded) {
    // From a message back to the conversation itself: its newest lines.
    openRoom(state.room, { address: "none" });
    if (!page.reachedEnd) reloadLatest();
    return;
  }
  openRoom(state.room, { around: state.thread || around, address: "none" });
  if (state.thread && around) showReply(around);
});

// ------------------------------------------------------- first load

/**
 * Where the page opens, as the server read the address (meta
 * chatroom-open): set before the socket connects, so the first history
 * asked is that conversation's (around the message, for a permalink).
 */
export function startAtAddress() {
  const meta = document.querySelector('meta[name="chatroom-open"]');
  const room = meta && meta.content ? meta.content : GLOBAL;
  const number = (text) => (/^[1-9][0-9]*$/.test(text || "") ? Number(text) : undefined);
  const message = number(meta && meta.dataset.message);
  const thread = number(meta && meta.dataset.thread);
  if (meta && meta.dataset.preview === "true") {
    window.history.replaceState(entry(room, message, { preview: true }), "", addressOf(room, message));
    offerJoin(room, message);
    return;
  }
  window.history.replaceState(entry(room, message, { thread: thread || null }), "", addressOf(room, message));
  page.current = room;
  if (message) {
    loadAround(thread || message);
    if (thread) showReply(message);
  }
}

// A reply kept in its thread: the thread panel open at it, highlighted.
async function showReply(id) {
  await openThread(id);
  const li = threadView.rendered.get(id);
  if (!li) return;
  li.scrollIntoView({ block: "center" });
  li.classList.add("is-highlighted");
  setTimeout(() => li.classList.remove("is-highlighted"), HIGHLIGHT_MS);
}

// ------------------------------------------------ a room to join first

let offer = null;

function hideJoinOffer() {
  if (offer) offer.remove();
  offer = null;
}

// "#Rust-Fans — You are not in this room yet. [Join #Rust-Fans]", above
// the open conversation, until joining or going elsewhere.
async function offerJoin(id, message) {
  hideJoinOffer();
  const bar = make("div", "join-offer");
  bar.setAttribute("role", "region");
  offer = bar;
  const res = await api("GET", `/api/v1/rooms/${encodeURIComponent(id)}`);
  if (offer !== bar) return;
  const room = res.ok && res.data && validRoom(res.data.room) ? res.data.room : { id, name: id, topic: "" };
  const name = typeof room.name === "string" && room.name ? room.name : id;
  bar.setAttribute("aria-label", `Join #${name}`);
  const text = make("p", "join-offer-text");
  text.append(make("strong", "", `#${name}`), " — You are not in this room yet. Join it to read and write in it.");
  if (typeof room.topic === "string" && room.topic) text.append(make("span", "join-offer-topic", room.topic));
  const join = button(`Join #${name}`, "button button-sm button-primary");
  const status = make("p", "join-offer-status");
  status.setAttribute("role", "status");
  bar.append(text, join, status);
  el.notice.after(bar);
  join.addEventListener("click", async () => {
    join.disabled = true;
    const answer = await api("PUT", `/api/v1/rooms/${encodeURIComponent(id)}/membership`);
    join.disabled = false;
    if (!answer.ok || !answer.data || !validRoom(answer.data.room)) {
      status.textContent = errorMessage(answer.error, "Could not join the room. Try again.");
      return;
    }
    addRoom(answer.data.room, true);
    renderRooms();
    openRoom(answer.data.room.id, { around: message, address: "replace" });
  });
}

// ------------------------------------------------------------ copy link

const copied = make("div", "visually-hidden");
copied.setAttribute("role", "status");
document.body.append(copied);

/** "Copy link" on a message: its permalink to the clipboard, said aloud. */
export async function copyLink(m, from) {
  const link = permalink(m);
  let done;
  try {
    await navigator.clipboard.writeText(link);
    done = true;
  } catch {
    done = copyByHand(link);
    from.focus();
  }
  const label = from.textContent;
  from.textContent = done ? "Link copied" : "Copy failed";
  copied.textContent = done ? "Link copied." : `Copy this link: ${link}`;
  from.dataset.link = link;
  setTimeout(() => {
    if (from.isConnected) from.textContent = label;
    copied.textContent = "";
  }, 2000);
}

// Without the Clipboard API (a page served over plain http from another
// host): the older way, through a selected text box.
function copyByHand(text) {
  const area = make("textarea", "visually-hidden");
  area.value = text;
  area.setAttribute("readonly", "");
  document.body.append(area);
  area.select();
  let ok;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}
