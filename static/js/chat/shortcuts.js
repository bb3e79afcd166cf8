// chatroom — the Discover page's chat, keyboard shortcuts: Escape leaves a
// panel, Alt+↑/↓ moves between conversations, ↑ in an empty Message box
// edits your last message, ? lists them all (docs/page.md, "Keyboard").
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { el, page } from "./state.js";
import { make } from "./util.js";
import { backToChat, openRoom } from "./conversations.js";
import { editLastOwn } from "./message-actions.js";
import { openSwitcher } from "./switcher.js";

const mac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || "");
const MOD = mac ? "⌘" : "Ctrl";

// What the ? dialog lists: keys (each a <kbd>), then what they do.
const SHORTCUTS = [
  [[MOD, "K"], "Jump to a conversation or a person"],
  [["Alt", "↑"], "Previous conversation in the list"],
  [["Alt", "↓"], "Next conversation in the list"],
  [["↑"], "Edit your last message (in an empty Message box)"],
  [["Enter"], "Send"],
  [["Shift", "Enter"], "New line"],
  [["Escape"], "Close a panel, a thread, a card or a dialog"],
  [["?"], "Show this list"],
];

function editable(node) {
  return Boolean(node && node.closest && node.closest("input, textarea, select, [contenteditable]"));
}

// ------------------------------------------------------- conversations

function conversationOrder() {
  return [...el.nav.querySelectorAll("li[data-room] button[data-room]")].map((b) => b.dataset.room);
}

function moveConversation(step) {
  const order = conversationOrder();
  if (order.length < 2) return;
  const here = order.indexOf(page.current);
  const next = order[(here + step + order.length) % order.length];
  openRoom(next);
}

// ---------------------------------------------------------- the list

let dialog = null;

function buildDialog() {
  const d = make("dialog", "shortcuts-dialog");
  d.id = "shortcuts";
  d.setAttribute("aria-labelledby", "shortcuts-title");
  const title = make("h2", "shortcuts-title", "Keyboard shortcuts");
  title.id = "shortcuts-title";
  const list = make("dl", "shortcuts-list");
  for (const [keys, what] of SHORTCUTS) {
    const row = make("div", "shortcuts-row");
    const dt = make("dt", "shortcuts-keys");
    keys.forEach((key, i) => {
      if (i > 0) dt.append(" + ");
      dt.append(make("kbd", "", key));
    });
    row.append(dt, make("dd", "shortcuts-what", what));
    list.append(row);
  }
  const close = make("button", "button button-primary", "Close");
  close.type = "button";
  close.addEventListener("click", () => d.close());
  d.append(title, list, close);
  document.body.append(d);
  return d;
}

export function openShortcuts() {
  if (!dialog) dialog = buildDialog();
  if (!dialog.open) dialog.showModal();
  dialog.querySelector("button").focus();
}

// ------------------------------------------------------------ the keys

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.isComposing) return;
  const modal = document.querySelector("dialog[open]");
  if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
    event.preventDefault();
    if (modal) modal.close();
    openSwitcher();
    return;
  }
  if (modal) return; // the dialog has the keyboard
  if (event.altKey && !event.ctrlKey && !event.metaKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
    event.preventDefault();
    moveConversation(event.key === "ArrowUp" ? -1 : 1);
    return;
  }
  if (event.key === "Escape" && page.view !== "chat") {
    event.preventDefault();
    backToChat();
    return;
  }
  if (event.key === "?" && !event.ctrlKey && !event.metaKey && !event.altKey && !editable(event.target)) {
    event.preventDefault();
    openShortcuts();
  }
});

el.input.addEventListener("keydown", (event) => {
  if (event.key !== "ArrowUp" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
  if (el.input.value !== "" || event.isComposing) return;
  if (editLastOwn()) event.preventDefault();
});
