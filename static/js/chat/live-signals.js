// chatroom — the Discover page's chat, live signals: member counts that move
// (room_updated, and watching the directory while Browse rooms is open),
// saying why the page was signed out (signed_out → /login?reason=…), and
// the composer of a conversation nobody can write to (read_only).
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { el, rooms, socket } from "./state.js";
import { make } from "./util.js";
import { renderRooms, validRoom } from "./conversations.js";
import { directoryItem } from "./directory.js";

// ----------------------------------------------------------- sign-outs

let reason = "";

/** Whether the server signed this page out (it is on its way to /login). */
export const signedOut = () => reason !== "";

/**
 * The login page's address saying why (docs/realtime.md, "Signed out: why"),
 * bringing the person back to this conversation once they log in again.
 * The login page shows a sentence only for the reasons it knows.
 */
export function loginAddress(fallback = "session_expired") {
  const why = encodeURIComponent(reason || fallback);
  const here = window.location.pathname.startsWith("/discover")
    ? `&next=${encodeURIComponent(window.location.pathname)}`
    : "";
  return `/login?reason=${why}${here}`;
}

socket.on("signed_out", (payload) => {
  const said = payload && typeof payload.reason === "string" ? payload.reason : "";
  reason = /^[a-z_]{1,40}$/.test(said) ? said : "session_expired";
  window.location.assign(loginAddress());
});

// ------------------------------------------------------- member counts

const KEEP = ["unread", "mentions", "last_read_id", "muted"]; // mine, not in room_updated

socket.on("room_updated", (payload) => {
  const room = payload && payload.room;
  if (!validRoom(room)) return;
  const mine = rooms.get(room.id);
  if (mine) {
    const fields = { ...room };
    for (const key of KEEP) delete fields[key];
    Object.assign(mine, fields);
    renderRooms();
  }
  const listed = [...el.directoryList.children].find((li) => li.dataset.room === room.id);
  if (listed) {
    const focused = listed.contains(document.activeElement);
    const fresh = directoryItem(mine ? { ...room, joined: true } : room);
    listed.replaceWith(fresh);
    if (focused) fresh.querySelector("button")?.focus({ preventScroll: true });
  }
});

// Browse rooms open = this socket watches the directory's counts.
let watching = false;
function syncWatch() {
  const want = !el.directory.hidden;
  if (want === watching && socket.connected) return;
  watching = want;
  if (socket.connected) socket.emit("directory", { watch: want });
}
new MutationObserver(syncWatch).observe(el.directory, { attributes: true, attributeFilter: ["hidden"] });
socket.on("connect", () => {
  // A new connection watches nothing yet.
  watching = false;
  if (!el.directory.hidden) syncWatch();
});

// ------------------------------------------------- read-only composer

const readOnlyNote = make("p", "composer-readonly");
readOnlyNote.id = "composer-readonly";
readOnlyNote.hidden = true;
el.form.prepend(readOnlyNote);

/**
 * Disables the Message box, Send and Attach in a conversation nobody can
 * post to (a DM with a deleted account), saying why above them.
 */
export function renderReadOnly(room) {
  const why = room && room.read_only === true
    ? (typeof room.read_only_reason === "string" && room.read_only_reason) || "You cannot send messages here."
    : "";
  if (readOnlyNote.textContent !== why) readOnlyNote.textContent = why;
  readOnlyNote.hidden = !why;
  const off = Boolean(why);
  el.input.disabled = off;
  el.send.disabled = off;
  el.attach.disabled = off;
  const emoji = document.getElementById("emoji-button");
  if (emoji) emoji.disabled = off;
  el.form.classList.toggle("is-read-only", off);
  const described = (el.input.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== readOnlyNote.id);
  if (off) described.unshift(readOnlyNote.id);
  el.input.setAttribute("aria-describedby", described.join(" "));
}
