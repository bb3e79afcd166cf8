// chatroom — the Discover page's chat, the People view: everyone you may
// message, online or not, found by name from the people directory
// (GET /api/v1/users), with "Message" opening the direct conversation
// (docs/page.md, "People").
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { el, me, online, page } from "./state.js";
import { api, button, errorMessage, make } from "./util.js";
import { backToChat, showView } from "./conversations.js";
import { closeDrawers } from "./drawers.js";
import { avatarFor } from "./messages.js";
import { openDm } from "./people.js";

const LIMIT = 50; // the directory's most per answer
const joinedFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

const search = document.getElementById("people-search");
const form = document.getElementById("people-search-form");
const status = document.getElementById("people-status");
const list = document.getElementById("people-list");
const close = document.getElementById("people-close");

let seq = 0;
let timer = 0;

function validUser(user) {
  return Boolean(user) && Number.isInteger(user.id) && typeof user.username === "string" && typeof user.avatar_url === "string";
}

function facts(user) {
  const parts = [online.has(user.id) ? "Online" : "Offline"];
  const joined = Date.parse(user.created_at);
  if (Number.isFinite(joined)) parts.push(`joined ${joinedFormat.format(joined)}`);
  return parts.join(" · ");
}

function personItem(user) {
  const li = make("li", "directory-item people-item");
  li.dataset.user = String(user.id);
  const info = make("div", "directory-info");
  const name = make("p", "directory-name", user.username);
  name.id = `person-${user.id}`;
  if (user.id === me.id) name.append(make("span", "people-you", "(you)"));
  info.append(name, make("p", "directory-meta", facts(user)));
  li.append(avatarFor(user, 32), info);
  if (user.id !== me.id) {
    const message = button("Message", "button button-sm button-primary", "message");
    message.dataset.username = user.username;
    message.setAttribute("aria-describedby", name.id);
    li.append(message);
  }
  return li;
}

async function load() {
  const mine = ++seq;
  const q = search.value.trim();
  status.textContent = "Loading…";
  const res = await api("GET", `/api/v1/users?q=${encodeURIComponent(q)}&limit=${LIMIT}`);
  if (mine !== seq) return;
  if (!res.ok || !res.data || !Array.isArray(res.data.users)) {
    status.textContent = errorMessage(res.error, "Could not load the people.");
    return;
  }
  const people = res.data.users.filter(validUser);
  list.replaceChildren(...people.map(personItem));
  if (!people.length) status.textContent = q ? `Nobody's name contains “${q}”.` : "Nobody here yet.";
  else if (people.length === LIMIT) status.textContent = `The first ${LIMIT} people. Type part of a name to find others.`;
  else status.textContent = `${people.length} ${people.length === 1 ? "person" : "people"}`;
}

function openPeople() {
  closeDrawers();
  showView("people");
  load();
  search.focus();
}

search.addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(load, 250);
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(timer);
  load();
});

list.addEventListener("click", async (event) => {
  const b = event.target.closest("button[data-username]");
  if (!b) return;
  b.disabled = true;
  const problem = await openDm(b.dataset.username);
  b.disabled = false;
  if (problem) status.textContent = problem;
});

el.openPeople.addEventListener("click", () => (page.view === "people" ? backToChat() : openPeople()));
close.addEventListener("click", backToChat);
