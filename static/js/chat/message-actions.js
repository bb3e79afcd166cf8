// chatroom — the Discover page's chat, actions on a message (reply in
// thread, react, edit, delete, open a picture) and keyboard moves between lines, in the open
// conversation and in the thread panel alike (state.js's views).
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { MAX_CHARS, MESSAGE_RULE } from "./config.js";
import { EMOJI, el, page, roomView, views } from "./state.js";
import { ask, button, errorMessage, isMessage, make } from "./util.js";
import { replaceMessage } from "./messages.js";
import { loadOlder } from "./history.js";
import { openThread } from "./threads.js";
import { openViewer } from "./attachment-view.js";
import { emojiBrowser } from "./emoji-picker.js";
import { enterSends } from "./sending.js";
import { copyLink } from "./addresses.js";

// ---------------------------------------------------- message actions

roomView.onTop = () => loadOlder();

function viewOf(node) {
  return views.find((view) => view.container.contains(node)) || roomView;
}

function messageOf(node) {
  const li = node.closest("li.message[data-id]");
  if (!li) return null;
  const view = viewOf(li);
  const m = view.known.get(Number(li.dataset.id));
  return m ? { li, m, view } : null;
}

// Shows a short error on the line itself (never alert()).
function lineError(li, text) {
  let line = li.querySelector(".message-error");
  if (!line) {
    line = make("p", "message-error");
    line.setAttribute("role", "alert");
    li.querySelector(".message-row").append(line);
  }
  line.textContent = text;
  setTimeout(() => line.remove(), 6000);
}

async function changeMessage(li, event, payload) {
  const view = viewOf(li);
  const ack = await ask(event, payload);
  if (ack && ack.ok && isMessage(ack.message)) {
    replaceMessage(ack.message);
    return true;
  }
  const code = ack && ack.error && ack.error.code;
  const text =
    code === "message_deleted"
      ? "This message was deleted meanwhile."
      : code === "forbidden"
        ? "You cannot change this message."
        : code === "validation_failed"
          ? MESSAGE_RULE
          : errorMessage(ack && ack.error, "That did not work. Try again.");
  lineError(view.rendered.get(payload.id) || li, text);
  return false;
}

function onActionClick(event) {
  const target = event.target.closest("button[data-action]");
  if (!target || !event.currentTarget.contains(target)) return;
  const found = messageOf(target);
  if (!found) return;
  const { li, m, view } = found;
  switch (target.dataset.action) {
    case "reply":
    case "open-thread":
      // A reply shown in the conversation opens its root's thread.
      openThread(Number.isInteger(m.reply_to) ? m.reply_to : m.id, { from: target, message: m });
      break;
    case "react":
      togglePicker(li, target);
      break;
    case "copy-link":
      copyLink(m, target);
      break;
    case "more-reactions":
      showAllEmoji(target);
      break;
    case "pick":
      closePicker(true);
      changeMessage(li, "react", { id: m.id, emoji: target.dataset.emoji });
      break;
    case "toggle-reaction": {
      const mine = target.getAttribute("aria-pressed") === "true";
      changeMessage(li, mine ? "unreact" : "react", { id: m.id, emoji: target.dataset.emoji });
      break;
    }
    case "edit":
      startEdit(li, m, view);
      break;
    case "delete":
      confirmDelete(li, target);
      break;
    case "confirm-delete":
      changeMessage(li, "delete", { id: m.id });
      break;
    case "cancel-delete":
      endConfirm(li, true);
      break;
    case "view-picture": {
      const files = Array.isArray(m.attachments) ? m.attachments : [];
      const picture = files.find((a) => a && String(a.id) === target.dataset.attachment);
      if (picture) openViewer(picture, target);
      break;
    }
    default:
      break;
  }
}

// Delete asks once, inline: "Delete?" [Yes, delete] [Cancel].
function confirmDelete(li, from) {
  const bar = li.querySelector(".message-actions");
  if (!bar) return;
  bar.classList.add("is-confirming");
  for (const b of bar.children) b.hidden = true;
  const ask = make("span", "confirm", "Delete?");
  const yes = button("Yes, delete", "action action-danger", "confirm-delete");
  const no = button("Cancel", "action", "cancel-delete");
  ask.dataset.confirm = "";
  yes.dataset.confirm = "";
  no.dataset.confirm = "";
  bar.append(ask, yes, no);
  yes.focus();
  bar.dataset.returnTo = from.dataset.action;
}

function endConfirm(li, refocus) {
  const bar = li.querySelector(".message-actions");
  if (!bar) return;
  bar.classList.remove("is-confirming");
  for (const node of [...bar.querySelectorAll("[data-confirm]")]) node.remove();
  for (const b of bar.children) b.hidden = false;
  if (refocus) {
    const back = bar.querySelector('[data-action="delete"]');
    if (back) back.focus();
  }
}

// The reaction picker (page.picker), one open at a time: the six quick
// reactions, then "More reactions…" for the whole set (emoji-picker.js).

function togglePicker(li, anchor) {
  if (page.picker && page.picker.li === li) {
    closePicker(true);
    return;
  }
  closePicker();
  const node = make("div", "reaction-picker");
  node.setAttribute("role", "group");
  node.setAttribute("aria-label", "Choose a reaction");
  for (const [emoji, name] of EMOJI) {
    const b = button(emoji, "reaction-pick", "pick");
    b.dataset.emoji = emoji;
    b.title = name;
    b.setAttribute("aria-label", name);
    node.append(b);
  }
  const more = button("", "reaction-more", "more-reactions");
  more.setAttribute("aria-label", "More reactions…");
  more.title = "More reactions";
  more.append(smileyPlus());
  node.append(more);
  li.querySelector(".message-row").append(node);
  li.classList.add("has-picker");
  anchor.setAttribute("aria-expanded", "true");
  page.picker = { node, li, anchor };
  // Below the line unless that is past the list's bottom edge (the last
  // lines): then above it.
  const room = viewOf(li).scroller.getBoundingClientRect();
  if (node.getBoundingClientRect().bottom > room.bottom) node.classList.add("is-above");
  node.firstElementChild.focus({ preventScroll: true });
  node.scrollIntoView({ block: "nearest" });
}

// A smiling face with a plus: the whole set (as Slack's and GitHub's).
function smileyPlus() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of ["M20 12a8 8 0 1 1-8-8", "M8.5 14.5a4.5 4.5 0 0 0 7 0", "M9 10h.01", "M15 10h.01", "M19 2v6", "M16 5h6"]) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

// "More reactions…": the whole emoji set, searchable, under the quick six.
function showAllEmoji(more) {
  if (!page.picker) return;
  const { node, li } = page.picker;
  const browser = emojiBrowser({ action: "pick", label: "All reactions" });
  // Hidden, not removed: this very click then still counts as inside.
  more.hidden = true;
  more.after(browser);
  node.classList.add("is-full");
  node.classList.remove("is-above");
  const room = viewOf(li).scroller.getBoundingClientRect();
  if (node.getBoundingClientRect().bottom > room.bottom) node.classList.add("is-above");
  browser.focusSearch();
  node.scrollIntoView({ block: "nearest" });
}

export function closePicker(refocus) {
  if (!page.picker) return;
  const { node, li, anchor } = page.picker;
  page.picker = null;
  node.remove();
  li.classList.remove("has-picker");
  anchor.setAttribute("aria-expanded", "false");
  if (refocus && anchor.isConnected) anchor.focus();
}

// Inline editor: Enter saves, Shift+Enter adds a line, Escape cancels.
function startEdit(li, m, view) {
  if (li.classList.contains("is-editing")) return;
  closePicker();
  li.classList.add("is-editing");
  const content = li.querySelector(".message-content");
  const form = make("form", "message-editor");
  form.noValidate = true;
  const area = make("textarea", "editor-input");
  area.value = m.text;
  area.maxLength = MAX_CHARS;
  area.rows = 2;
  area.setAttribute("aria-label", "Edit text");
  // (A touch keyboard's Enter starts a new line: sending.js, enterSends.)
  const touch = document.body.classList.contains("is-touch");
  const hint = make("p", "editor-hint", touch ? "Save to keep · Enter starts a new line" : "Enter to save · Escape to cancel");
  const save = make("button", "button button-sm button-primary", "Save");
  save.type = "submit";
  const cancel = button("Cancel", "button button-sm button-ghost");
  const row = make("div", "editor-row");
  row.append(hint, cancel, save);
  form.append(area, row);
  content.hidden = true;
  content.after(form);
  // The whole editor in view, its Save and Cancel included (the last
  // line's editor would open below the visible list).
  area.focus({ preventScroll: true });
  area.setSelectionRange(area.value.length, area.value.length);
  form.scrollIntoView({ block: "nearest" });

  const close = () => {
    form.remove();
    content.hidden = false;
    li.classList.remove("is-editing");
    const latest = view.known.get(m.id);
    if (latest && latest !== m) replaceMessage(latest);
    const now = view.rendered.get(m.id);
    if (now) now.querySelector(".message-row").focus({ preventScroll: true });
  };
  const submit = async () => {
    const text = area.value.trim();
    if (text === m.text) return close();
    if (!text) {
      lineError(li, "A message cannot be empty. Delete it instead.");
      return undefined;
    }
    save.disabled = true;
    const ack = await ask("edit", { id: m.id, text });
    save.disabled = false;
    if (ack && ack.ok && isMessage(ack.message)) {
      for (const other of views) if (other.known.has(m.id)) other.known.set(m.id, ack.message);
      return close();
    }
    const code = ack && ack.error && ack.error.code;
    lineError(
      li,
      code === "validation_failed"
        ? MESSAGE_RULE
        : code === "message_deleted"
          ? "This message was deleted meanwhile."
          : errorMessage(ack && ack.error, "Not saved. Try again."),
    );
    return undefined;
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  cancel.addEventListener("click", close);
  area.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
    } else if (enterSends(event)) {
      event.preventDefault();
      submit();
    }
  });
}

// Keyboard: arrows move between lines; a line's buttons are tabbable only
// while focus is inside it.
const LINE_CONTROLS =
  ".message-actions button, .message-author[data-action], .reaction, .thread-summary, .thread-note-link, .attachment-picture, .file-card";

function lineRows(view) {
  return [...view.container.querySelectorAll("li.message[data-id] > .message-row")];
}

function onArrowKey(view, event) {
  if (event.target.closest("textarea, .reaction-picker")) return;
  const keys = ["ArrowUp", "ArrowDown", "Home", "End"];
  if (!keys.includes(event.key)) return;
  // (A focused code block still scrolls sideways with Left and Right.)
  const rows = lineRows(view);
  if (!rows.length) return;
  const here = event.target.closest(".message-row");
  let index = here ? rows.indexOf(here) : -1;
  if (event.key === "ArrowUp") index = index < 0 ? rows.length - 1 : Math.max(0, index - 1);
  else if (event.key === "ArrowDown") index = index < 0 ? rows.length - 1 : Math.min(rows.length - 1, index + 1);
  else if (event.key === "Home") index = 0;
  else index = rows.length - 1;
  if (event.key === "ArrowUp" && index === 0 && view.onTop) view.onTop();
  event.preventDefault();
  rows[index].focus();
  rows[index].scrollIntoView({ block: "nearest" });
}

function onFocusIn(event) {
  const row = event.target.closest(".message-row");
  if (!row) return;
  for (const b of row.querySelectorAll(LINE_CONTROLS)) b.tabIndex = 0;
}

function onFocusOut(event) {
  const row = event.target.closest(".message-row");
  if (!row || (event.relatedTarget && row.contains(event.relatedTarget))) return;
  for (const b of row.querySelectorAll(LINE_CONTROLS)) b.tabIndex = -1;
}

function onEscape(event) {
  if (event.key !== "Escape") return;
  if (page.picker && page.picker.node.contains(event.target)) {
    event.stopPropagation();
    closePicker(true);
    return;
  }
  const bar = event.target.closest(".message-actions.is-confirming");
  if (bar) {
    event.stopPropagation();
    endConfirm(bar.closest("li"), true);
  }
}

for (const view of views) {
  view.container.addEventListener("click", onActionClick);
  view.container.addEventListener("focusin", onFocusIn);
  view.container.addEventListener("focusout", onFocusOut);
  view.container.addEventListener("keydown", onEscape);
  view.scroller.addEventListener("keydown", (event) => onArrowKey(view, event));
}

document.addEventListener("click", (event) => {
  if (page.picker && !page.picker.node.contains(event.target) && event.target !== page.picker.anchor) closePicker();
  for (const bar of document.querySelectorAll(".message-actions.is-confirming")) {
    if (!bar.contains(event.target)) endConfirm(bar.closest("li"), false);
  }
});

/** ↑ in an empty Message box: edits your newest message of the open conversation. */
export function editLastOwn() {
  const mine = [...el.list.querySelectorAll("li.message.is-mine[data-id]:not(.is-deleted)")];
  for (const li of mine.reverse()) {
    const m = roomView.known.get(Number(li.dataset.id));
    if (m && !m.deleted) {
      startEdit(li, m, roomView);
      return true;
    }
  }
  return false;
}
