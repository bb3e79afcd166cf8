// chatroom — the Discover page's chat, the message search panel.
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { el, page, rooms } from "./state.js";
import {
  api,
  button,
  dateFormat,
  errorMessage,
  escapeRegExp,
  isMessage,
  make,
  parseTime,
  roomOf,
} from "./util.js";
import { backToChat, openRoom, roomLabel, showView } from "./conversations.js";
import { closeDrawers } from "./drawers.js";

// ------------------------------------------------------------- search

// The search panel lives in a <template> and is in the page only while
// open (its box is the only other one whose label says "messages").
let search = null; // {panel, input, status, results}
let lastSearch = { q: "", results: null };
let searchSeq = 0;
let searchTimer = 0;

function openSearchPanel() {
  closeDrawers();
  if (!search) {
    const panel = el.searchTemplate.content.firstElementChild.cloneNode(true);
    el.directory.after(panel);
    search = {
      panel,
      input: panel.querySelector("#search-input"),
      status: panel.querySelector("#search-status"),
      results: panel.querySelector("#search-results"),
    };
    panel.querySelector("#search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(searchTimer);
      runSearch();
    });
    panel.querySelector("#search-close").addEventListener("click", backToChat);
    search.input.addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(runSearch, 350);
    });
    search.results.addEventListener("click", (event) => {
      const b = event.target.closest("button[data-id]");
      if (b) openRoom(b.dataset.room, { around: Number(b.dataset.id) });
    });
    search.input.value = lastSearch.q;
    if (lastSearch.results) renderResults(lastSearch.results, lastSearch.q);
  }
  showView("search");
  search.input.focus();
  search.input.select();
}

export function closeSearchPanel() {
  if (!search) return;
  search.panel.remove();
  search = null;
}

// The text around the first hit, with every query word marked.
function snippet(text, words) {
  const lower = text.toLowerCase();
  const first = words.map((w) => lower.indexOf(w)).filter((i) => i >= 0).sort((a, b) => a - b)[0] || 0;
  const start = Math.max(0, first - 60);
  const end = Math.min(text.length, start + 180);
  const piece = `${start > 0 ? "…" : ""}${text.slice(start, end)}${end < text.length ? "…" : ""}`;
  const node = make("p", "search-snippet");
  if (!words.length) {
    node.textContent = piece;
    return node;
  }
  const pattern = new RegExp(`(${words.map(escapeRegExp).join("|")})`, "gi");
  let last = 0;
  for (const match of piece.matchAll(pattern)) {
    if (match.index > last) node.append(piece.slice(last, match.index));
    node.append(make("mark", "", match[0]));
    last = match.index + match[0].length;
  }
  if (last < piece.length) node.append(piece.slice(last));
  return node;
}

function renderResults(list, q) {
  const words = q.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  const items = list.map((m) => {
    const li = make("li", "search-result");
    const b = button("", "search-hit", "open-result");
    b.dataset.id = String(m.id);
    b.dataset.room = roomOf(m);
    const head = make("span", "search-head");
    const room = rooms.get(roomOf(m));
    const where = room ? `${room.kind === "dm" ? "@" : "#"}${roomLabel(room)}` : `#${roomOf(m)}`;
    const when = parseTime(m.created_at);
    const time = make("time", "search-time", dateFormat.format(when));
    time.dateTime = when.toISOString();
    head.append(
      make("span", "search-author", m.author ? m.author.username : "Deleted user"),
      make("span", "search-room", where),
      time,
    );
    b.append(head, snippet(m.text, words));
    li.append(b);
    return li;
  });
  search.results.replaceChildren(...items);
  search.status.textContent = list.length
    ? `${list.length} ${list.length === 1 ? "result" : "results"}${list.length >= 50 ? " (the newest 50)" : ""}`
    : "Nothing found.";
}

async function runSearch() {
  if (!search) return;
  const q = search.input.value.trim();
  const seq = ++searchSeq;
  if (!/[\p{L}\p{N}]/u.test(q)) {
    search.results.replaceChildren();
    search.status.textContent = q ? "Search for a word with at least one letter or digit." : "";
    lastSearch = { q, results: null };
    return;
  }
  search.status.textContent = "Searching…";
  const res = await api("GET", `/api/v1/search?q=${encodeURIComponent(q)}&limit=50`);
  if (seq !== searchSeq || !search) return;
  if (!res.ok || !res.data || !Array.isArray(res.data.messages)) {
    search.status.textContent = errorMessage(res.error, "Search failed. Try again.");
    return;
  }
  const list = res.data.messages.filter(isMessage);
  lastSearch = { q, results: list };
  renderResults(list, q);
}

el.openSearch.addEventListener("click", () => (page.view === "search" ? backToChat() : openSearchPanel()));
