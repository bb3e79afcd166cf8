// chatroom — the Discover page's chat, the quick switcher (Ctrl/⌘+K): one
// box that finds your conversations, anyone by name (offline included, from
// the people directory) and public rooms to join, and opens the one chosen
// (docs/page.md, "Keyboard").
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { GLOBAL, me, rooms } from "./state.js";
import { api, errorMessage, make } from "./util.js";
import { addRoom, openRoom, roomLabel, validRoom } from "./conversations.js";
import { avatarFor } from "./messages.js";
import { openDm } from "./people.js";

const SHOWN = 8; // options per kind
const ASK_AFTER_MS = 150; // typing pause before the server is asked

let ui = null;
let options = []; // {kind: room | person | join, label, detail, run}
let active = 0;
let asked = 0; // the latest question to the server; older answers are dropped
let timer = 0;
let found = { people: [], rooms: [] };

function build() {
  const dialog = make("dialog", "switcher");
  dialog.id = "switcher";
  dialog.setAttribute("aria-labelledby", "switcher-label");
  const label = make("label", "switcher-label", "Jump to");
  label.id = "switcher-label";
  label.htmlFor = "switcher-input";
  const input = make("input", "switcher-input");
  input.id = "switcher-input";
  input.type = "text";
  input.autocomplete = "off";
  input.spellcheck = false;
  input.placeholder = "A conversation, a person or a room";
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-expanded", "true");
  input.setAttribute("aria-controls", "switcher-list");
  input.setAttribute("aria-autocomplete", "list");
  const list = make("ul", "switcher-list");
  list.id = "switcher-list";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Matches");
  const status = make("p", "switcher-status");
  status.setAttribute("role", "status");
  const hint = make("p", "switcher-hint", "↑ ↓ to choose · Enter to open · Escape to close");
  dialog.append(label, input, list, status, hint);
  document.body.append(dialog);

  input.addEventListener("input", () => {
    active = 0;
    render();
    clearTimeout(timer);
    timer = setTimeout(ask, ASK_AFTER_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (options.length === 0) return;
      active = (active + (event.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
      mark();
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (options[active]) choose(options[active]);
    }
  });
  list.addEventListener("click", (event) => {
    const li = event.target.closest("li[data-index]");
    if (li) choose(options[Number(li.dataset.index)]);
  });
  dialog.addEventListener("close", () => {
    clearTimeout(timer);
    asked += 1;
  });
  return { dialog, input, list, status };
}

const matches = (text, q) => text.toLowerCase().includes(q);
const recency = (room) => Date.parse(room.last_activity_at || "") || 0;
const startsFirst = (q) => (a, b) =>
  Number(!a.label.toLowerCase().startsWith(q)) - Number(!b.label.toLowerCase().startsWith(q));

function collect() {
  const q = ui.input.value.trim().toLowerCase();
  const mine = [...rooms.values()]
    .filter((room) => matches(roomLabel(room), q))
    .sort((a, b) => recency(b) - recency(a));
  const dmPeers = new Set(
    [...rooms.values()].filter((room) => room.kind === "dm" && room.peer).map((room) => room.peer.id),
  );
  const conversations = mine
    .map((room) => ({
      kind: "room",
      label: roomLabel(room),
      prefix: room.kind === "dm" ? "@" : "#",
      detail: room.kind === "dm" ? "Direct message" : room.id === GLOBAL ? "Everyone" : "Room",
      peer: room.kind === "dm" ? room.peer : null,
      run: () => openRoom(room.id),
    }))
    .sort(startsFirst(q))
    .slice(0, SHOWN);
  const people = found.people
    .filter((user) => user.id !== me.id && !dmPeers.has(user.id) && matches(user.username, q))
    .slice(0, SHOWN)
    .map((user) => ({
      kind: "person",
      label: user.username,
      prefix: "@",
      detail: "Send a direct message",
      peer: user,
      run: () => openDm(user.username),
    }));
  const joinable = found.rooms
    .filter((room) => room.kind === "public" && !rooms.has(room.id) && matches(roomLabel(room), q))
    .slice(0, SHOWN)
    .map((room) => ({
      kind: "join",
      label: roomLabel(room),
      prefix: "#",
      detail: "Join this room",
      peer: null,
      run: () => join(room.id),
    }));
  return [...conversations, ...people, ...joinable];
}

function render() {
  options = collect();
  if (active >= options.length) active = 0;
  ui.list.replaceChildren(
    ...options.map((option, index) => {
      const li = make("li", "switcher-option");
      li.id = `switcher-option-${index}`;
      li.dataset.index = String(index);
      li.dataset.kind = option.kind;
      li.setAttribute("role", "option");
      const face = option.peer && typeof option.peer.avatar_url === "string" ? avatarFor(option.peer, 24) : null;
      const badge = make("span", "switcher-mark", face ? "" : option.prefix);
      badge.setAttribute("aria-hidden", "true");
      if (face) badge.append(face);
      li.append(badge, make("span", "switcher-name", option.label), make("span", "switcher-detail", option.detail));
      return li;
    }),
  );
  ui.status.textContent = options.length ? "" : "Nothing matches.";
  mark();
}

function mark() {
  for (const li of ui.list.children) {
    const on = Number(li.dataset.index) === active;
    li.setAttribute("aria-selected", String(on));
    if (on) li.scrollIntoView({ block: "nearest" });
  }
  if (options[active]) ui.input.setAttribute("aria-activedescendant", `switcher-option-${active}`);
  else ui.input.removeAttribute("aria-activedescendant");
}

// People (offline ones too) and public rooms, from the server.
async function ask() {
  const q = ui.input.value.trim();
  const question = ++asked;
  const query = `q=${encodeURIComponent(q)}&limit=${SHOWN}`;
  const [people, directory] = await Promise.all([
    q ? api("GET", `/api/v1/users?${query}`) : Promise.resolve(null),
    q ? api("GET", `/api/v1/rooms?${query}`) : Promise.resolve(null),
  ]);
  if (question !== asked || !ui.dialog.open) return;
  found = {
    people: people && people.ok && Array.isArray(people.data.users) ? people.data.users : [],
    rooms: directory && directory.ok && Array.isArray(directory.data.rooms) ? directory.data.rooms.filter(validRoom) : [],
  };
  render();
}

async function join(id) {
  const res = await api("PUT", `/api/v1/rooms/${encodeURIComponent(id)}/membership`);
  if (!res.ok || !res.data || !validRoom(res.data.room)) return errorMessage(res.error, "Could not join that room.");
  addRoom(res.data.room, true);
  openRoom(res.data.room.id);
  return "";
}

async function choose(option) {
  if (!option) return;
  const problem = await option.run();
  if (problem) {
    ui.status.textContent = problem;
    return;
  }
  ui.dialog.close();
}

/** Opens the switcher with an empty box: your conversations, newest first. */
export function openSwitcher() {
  if (!ui) ui = build();
  ui.input.value = "";
  found = { people: [], rooms: [] };
  active = 0;
  render();
  if (!ui.dialog.open) ui.dialog.showModal();
  ui.input.focus();
}
