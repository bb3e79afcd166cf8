// chatroom — the Discover page's chat, browser notifications for mentions.
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { el, rooms } from "./state.js";
import { roomOf } from "./util.js";
import { openRoom, roomLabel } from "./conversations.js";
import { summaryText } from "./attachment-view.js";

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
    permission === "granted" ? "Notifications are on for mentions." : "Notifications stay off (the browser said no).";
});

export function notifyMention(m) {
  if (!canNotify || Notification.permission !== "granted") return;
  const room = rooms.get(roomOf(m));
  const where = room ? (room.kind === "dm" ? "a direct message" : `#${roomLabel(room)}`) : "a conversation";
  try {
    const note = new Notification(`${m.author ? m.author.username : "Someone"} mentioned you in ${where}`, {
      body: summaryText(m).slice(0, 160),
      tag: `mention-${m.id}`,
    });
    note.addEventListener("click", () => {
      window.focus();
      openRoom(roomOf(m), { around: m.id });
      note.close();
    });
  } catch {
    // Some platforms only allow notifications from a service worker.
  }
}
