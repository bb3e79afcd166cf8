// chatroom — the Discover page's chat, the room directory: browsing, joining
// and creating rooms.
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { MAX_TOPIC_CHARS, ROOM_NAME } from "./config.js";
import { el, page, rooms } from "./state.js";
import { ago, api, button, errorMessage, make } from "./util.js";
import { addRoom, backToChat, openRoom, roomLabel, showView, validRoom } from "./conversations.js";
import { closeDrawers } from "./drawers.js";

// ---------------------------------------------------------- directory

let directorySeq = 0;
let directoryTimer = 0;

function openDirectory() {
  closeDrawers();
  showView("directory");
  loadDirectory();
  el.roomSearch.focus();
}

export function directoryItem(room) {
  const li = make("li", "directory-item");
  li.dataset.room = room.id;
  const info = make("div", "directory-info");
  const name = make("p", "directory-name");
  const hash = make("span", "conv-hash", "#");
  hash.setAttribute("aria-hidden", "true");
  const nameText = make("span", "", roomLabel(room));
  nameText.id = `dir-${room.id.replace(/[^a-z0-9_-]/gi, "_")}`;
  name.append(hash, nameText);
  info.append(name);
  if (room.topic) info.append(make("p", "directory-topic", room.topic));
  const facts = [];
  if (Number.isInteger(room.member_count)) facts.push(`${room.member_count} ${room.member_count === 1 ? "member" : "members"}`);
  facts.push(room.last_activity_at ? `active ${ago(room.last_activity_at)}` : "no messages yet");
  info.append(make("p", "directory-meta", facts.join(" · ")));
  const joined = room.kind === "global" || room.joined === true || rooms.has(room.id);
  const action = button(joined ? "Open" : "Join", joined ? "button button-sm" : "button button-sm button-primary", joined ? "open" : "join");
  action.dataset.room = room.id;
  action.setAttribute("aria-describedby", nameText.id);
  li.append(info, action);
  return li;
}

async function loadDirectory() {
  const seq = ++directorySeq;
  const q = el.roomSearch.value.trim();
  el.directoryStatus.textContent = "Loading…";
  const res = await api("GET", `/api/v1/rooms?q=${encodeURIComponent(q)}&limit=100`);
  if (seq !== directorySeq) return;
  if (!res.ok || !res.data || !Array.isArray(res.data.rooms)) {
    el.directoryStatus.textContent = errorMessage(res.error, "Could not load the rooms.");
    return;
  }
  const list = res.data.rooms.filter(validRoom);
  el.directoryList.replaceChildren(...list.map(directoryItem));
  el.directoryStatus.textContent = list.length
    ? `${list.length} ${list.length === 1 ? "room" : "rooms"}`
    : q
      ? "No room matches. Create it below?"
      : "No rooms yet. Create the first one below.";
}

el.roomSearch.addEventListener("input", () => {
  clearTimeout(directoryTimer);
  directoryTimer = setTimeout(loadDirectory, 250);
});

el.roomSearchForm.addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(directoryTimer);
  loadDirectory();
});

el.directoryList.addEventListener("click", async (event) => {
  const b = event.target.closest("button[data-room]");
  if (!b) return;
  const id = b.dataset.room;
  if (b.dataset.action === "open") {
    openRoom(id);
    return;
  }
  b.disabled = true;
  const res = await api("PUT", `/api/v1/rooms/${encodeURIComponent(id)}/membership`);
  b.disabled = false;
  if (!res.ok || !res.data || !validRoom(res.data.room)) {
    el.directoryStatus.textContent = errorMessage(res.error, "Could not join that room.");
    return;
  }
  addRoom(res.data.room, true);
  openRoom(res.data.room.id);
});

function setFieldError(input, errorNode, text) {
  errorNode.textContent = text || "";
  errorNode.hidden = !text;
  if (text) {
    input.setAttribute("aria-invalid", "true");
    const ids = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (!ids.includes(errorNode.id)) input.setAttribute("aria-describedby", [...ids, errorNode.id].join(" "));
  } else {
    input.removeAttribute("aria-invalid");
  }
}

function clearCreateErrors() {
  setFieldError(el.roomName, el.roomNameError, "");
  setFieldError(el.roomTopic, el.roomTopicError, "");
  el.createError.hidden = true;
  el.createError.textContent = "";
}

// The server's rules (config.js), checked before asking it; it checks again.
function roomNameProblem(name) {
  if (!name) return "Enter a name for the room.";
  const length = [...name].length;
  if (length < ROOM_NAME.min || length > ROOM_NAME.max || !ROOM_NAME.pattern.test(name)) {
    return `A room name has ${ROOM_NAME.min} to ${ROOM_NAME.max} letters, digits, _ or -, starting with a letter or digit.`;
  }
  return "";
}

function topicProblem(topic) {
  return [...topic].length > MAX_TOPIC_CHARS ? `A topic has at most ${MAX_TOPIC_CHARS} characters.` : "";
}

el.createForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearCreateErrors();
  const name = el.roomName.value.trim();
  const topic = el.roomTopic.value.trim();
  const problem = roomNameProblem(name);
  if (problem) {
    setFieldError(el.roomName, el.roomNameError, problem);
    el.roomName.focus();
    return;
  }
  const topicIssue = topicProblem(topic);
  if (topicIssue) {
    setFieldError(el.roomTopic, el.roomTopicError, topicIssue);
    el.roomTopic.focus();
    return;
  }
  const submit = el.createForm.querySelector('button[type="submit"]');
  submit.disabled = true;
  const res = await api("POST", "/api/v1/rooms", topic ? { name, topic } : { name });
  submit.disabled = false;
  if (res.ok && res.data && validRoom(res.data.room)) {
    el.createForm.reset();
    addRoom(res.data.room, true);
    openRoom(res.data.room.id);
    return;
  }
  const fields = (res.data && res.data.error && res.data.error.fields) || (res.data && res.data.fields) || {};
  if (res.status === 409 || (res.error && res.error.code === "room_name_taken")) {
    setFieldError(el.roomName, el.roomNameError, "That name is taken. Pick another one.");
    el.roomName.focus();
  } else if (fields.name || fields.topic) {
    if (fields.name) setFieldError(el.roomName, el.roomNameError, String(fields.name));
    if (fields.topic) setFieldError(el.roomTopic, el.roomTopicError, String(fields.topic));
    (fields.name ? el.roomName : el.roomTopic).focus();
  } else {
    el.createError.textContent = errorMessage(res.error, "Could not create the room. Try again.");
    el.createError.hidden = false;
  }
});

el.roomName.addEventListener("input", () => setFieldError(el.roomName, el.roomNameError, ""));
el.roomTopic.addEventListener("input", () => setFieldError(el.roomTopic, el.roomTopicError, ""));
el.openDirectory.addEventListener("click", () => (page.view === "directory" ? backToChat() : openDirectory()));
el.directoryClose.addEventListener("click", backToChat);
