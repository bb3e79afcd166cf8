// chatroom — the Discover page's chat, @-autocomplete in the Message and
// Reply boxes (docs/page.md, "The composer").
//
// Typing "@" and the start of a name lists the people who can read the
// conversation (GET /api/v1/rooms/{room}/members), so a mention it offers
// reaches its reader. The box follows the ARIA combobox pattern while the
// list is open (role=combobox, aria-expanded, aria-activedescendant) and is
// a plain text box otherwise, as SPEC §3 names it.
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { me } from "./state.js";
import { api, make } from "./util.js";

/** How many people the list shows at most. */
export const MENTION_LIMIT = 8;
const CACHE_MS = 30_000;

// "@" at the start or after something that cannot end a word (so not an
// email address), then what may be part of a username.
const TOKEN = /(^|[^A-Za-z0-9_.@-])@([A-Za-z0-9_.-]{0,32})$/;

const cache = new Map(); // `${room}\n${query}` → { at, users }

async function membersOf(room, query) {
  const key = `${room}\n${query.toLowerCase()}`;
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.users;
  const path = `/api/v1/rooms/${encodeURIComponent(room)}/members?q=${encodeURIComponent(query)}&limit=${MENTION_LIMIT + 1}`;
  const res = await api("GET", path);
  const users = res.ok && res.data && Array.isArray(res.data.users) ? res.data.users : [];
  cache.set(key, { at: Date.now(), users });
  return users;
}

function tokenAt(input) {
  const caret = input.selectionStart;
  if (caret === null || caret !== input.selectionEnd) return null;
  const match = TOKEN.exec(input.value.slice(0, caret));
  if (!match) return null;
  return { start: caret - match[2].length - 1, end: caret, query: match[2] };
}

/**
 * Gives `input` (a textarea in a form) @-autocomplete of the people who can
 * read `roomOf()`. Returns `{ close }`.
 */
export function attachMentions(input, roomOf) {
  const listId = `${input.id}-mentions`;
  const list = make("ul", "mention-list");
  list.id = listId;
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "People to mention");
  list.hidden = true;
  input.form.append(list);
  input.setAttribute("aria-autocomplete", "list");

  let options = []; // users shown
  let active = -1;
  let token = null;
  let asked = 0;

  function setActive(index) {
    active = index;
    [...list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
    if (active >= 0) {
      input.setAttribute("aria-activedescendant", `${listId}-${active}`);
      list.children[active].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function close() {
    asked += 1;
    token = null;
    if (list.hidden) return;
    list.hidden = true;
    list.replaceChildren();
    options = [];
    active = -1;
    input.removeAttribute("role");
    input.removeAttribute("aria-expanded");
    input.removeAttribute("aria-controls");
    input.removeAttribute("aria-activedescendant");
  }

  function show(users, query) {
    options = users.filter((u) => u && u.id !== me.id && typeof u.username === "string").slice(0, MENTION_LIMIT);
    if (!options.length) {
      close();
      return;
    }
    list.replaceChildren(
      ...options.map((u, i) => {
        const li = make("li", "mention-option");
        li.id = `${listId}-${i}`;
        li.setAttribute("role", "option");
        li.dataset.username = u.username;
        const img = make("img", "avatar avatar-xs");
        img.alt = "";
        img.width = 24;
        img.height = 24;
        if (typeof u.avatar_url === "string") img.src = u.avatar_url;
        li.append(img, make("span", "mention-name", u.username));
        return li;
      }),
    );
    list.hidden = false;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-expanded", "true");
    input.setAttribute("aria-controls", listId);
    // What is typed already names someone: Enter sends as typed (nothing
    // to complete); ↓ still chooses a longer name.
    const exact = options.some((u) => u.username.toLowerCase() === query.toLowerCase());
    setActive(exact ? -1 : 0);
  }

  async function update() {
    token = tokenAt(input);
    if (!token) {
      close();
      return;
    }
    const room = roomOf();
    if (!room) return;
    const mine = ++asked;
    const want = token;
    const users = await membersOf(room, want.query);
    // Only if the box still has that same "@…" at the caret.
    if (mine !== asked || document.activeElement !== input) return;
    const now = tokenAt(input);
    if (!now || now.start !== want.start || now.query !== want.query) return;
    token = now;
    show(users, want.query);
  }

  function choose(index) {
    const user = options[index];
    const at = token || tokenAt(input);
    if (!user || !at) return;
    const text = `@${user.username} `;
    input.setRangeText(text, at.start, at.end, "end");
    close();
    input.focus();
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  input.addEventListener("input", () => {
    update();
  });
  input.addEventListener("click", () => update());
  input.addEventListener("blur", () => close());

  // Capture: runs before the box's own keys (Enter sends, ↑ edits the
  // last message, Escape leaves a panel) while the list is open.
  input.addEventListener(
    "keydown",
    (event) => {
      // Alt+↑/↓ still move between conversations, Ctrl/⌘ keys stay the page's.
      if (list.hidden || event.isComposing || event.altKey || event.ctrlKey || event.metaKey) return;
      const stop = () => {
        event.preventDefault();
        event.stopImmediatePropagation();
      };
      if (event.key === "ArrowDown") {
        stop();
        setActive((active + 1) % options.length);
      } else if (event.key === "ArrowUp") {
        stop();
        setActive(active <= 0 ? options.length - 1 : active - 1);
      } else if (event.key === "Enter" && !event.shiftKey && active >= 0) {
        stop();
        choose(active);
      } else if (event.key === "Tab" && !event.shiftKey) {
        stop();
        choose(active >= 0 ? active : 0);
      } else if (event.key === "Escape") {
        stop();
        close();
      } else if (event.key === "Enter") {
        close();
      } else if (event.key === "ArrowLeft" || event.key === "ArrowRight" || event.key === "Home" || event.key === "End") {
        setTimeout(update, 0);
      }
    },
    { capture: true },
  );

  // Keep the focus in the box while clicking a name.
  list.addEventListener("mousedown", (event) => event.preventDefault());
  list.addEventListener("click", (event) => {
    const li = event.target.closest("li[role=option]");
    if (!li) return;
    choose([...list.children].indexOf(li));
  });

  return { close };
}
