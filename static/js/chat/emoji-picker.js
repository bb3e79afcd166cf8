// chatroom — the Discover page's chat, the full emoji picker: every emoji
// the server accepts as a reaction (GET /api/v1/emoji, cached by the
// browser), by group, searchable by name and short name. Used by the
// reaction picker ("More reactions") and the composer's emoji button
// (docs/page.md, "The composer").
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { api, make } from "./util.js";

const COLUMNS = 8;
let catalog = null;

/** The server's emoji catalog (fetched once). */
export function loadCatalog() {
  if (!catalog) {
    catalog = api("GET", "/api/v1/emoji").then((res) => {
      if (!res.ok || !res.data || !Array.isArray(res.data.groups)) {
        catalog = null;
        return null;
      }
      return res.data;
    });
  }
  return catalog;
}

// Skin tones (none, then light to dark), the choice kept in this browser.
const TONES = ["✋ No skin tone", "✋🏻 Light", "✋🏼 Medium-light", "✋🏽 Medium", "✋🏾 Medium-dark", "✋🏿 Dark"];
const TONE_KEY = "chatroom.skin-tone";

function savedTone() {
  try {
    const n = Number(window.localStorage.getItem(TONE_KEY));
    return Number.isInteger(n) && n > 0 && n < TONES.length ? n : 0;
  } catch {
    return 0;
  }
}

function saveTone(n) {
  try {
    window.localStorage.setItem(TONE_KEY, String(n));
  } catch {
    // storage turned off: the choice lasts as long as the page
  }
}

/** `entry` in skin tone `tone` (0: as listed), where it takes one. */
function spelled(entry, tone) {
  return tone > 0 && Array.isArray(entry.skin_tones) && entry.skin_tones.length === 5
    ? entry.skin_tones[tone - 1]
    : entry.emoji;
}

function emojiButton(entry, action, tone) {
  const emoji = spelled(entry, tone);
  const b = make("button", "emoji-option", emoji);
  b.type = "button";
  b.dataset.emoji = emoji;
  if (action) b.dataset.action = action;
  b.setAttribute("aria-label", entry.name);
  b.title = entry.shortcodes && entry.shortcodes.length ? `${entry.name} :${entry.shortcodes[0]}:` : entry.name;
  b.tabIndex = -1;
  return b;
}

// Whether `entry` matches every word typed: a word of its name or a short
// name starting with it (so "heart" finds "red heart", "+1" finds 👍).
function matches(entry, words) {
  const names = [...entry.name.toLowerCase().split(/[\s:_-]+/), ...(entry.shortcodes || []).map((s) => s.toLowerCase())];
  return words.every((w) => names.some((n) => n.startsWith(w)) || entry.name.toLowerCase().includes(w));
}

/**
 * A search box and the grid of every emoji. A click on an emoji calls
 * `onPick(emoji)`, or, with `action`, leaves it to the page's
 * `data-action` handler. Returns the element; `.focusSearch()` on it.
 */
export function emojiBrowser({ onPick, action, label }) {
  const root = make("div", "emoji-browser");
  const searchId = `emoji-search-${Math.random().toString(36).slice(2, 8)}`;
  const searchLabel = make("label", "visually-hidden", "Search emoji");
  searchLabel.htmlFor = searchId;
  const search = make("input", "emoji-search");
  search.type = "search";
  search.id = searchId;
  search.placeholder = "Search emoji";
  search.autocomplete = "off";
  search.setAttribute("enterkeyhint", "done");
  const toneId = `${searchId}-tone`;
  const toneLabel = make("label", "visually-hidden", "Skin tone");
  toneLabel.htmlFor = toneId;
  const toneSelect = make("select", "emoji-tone");
  toneSelect.id = toneId;
  TONES.forEach((text, i) => {
    const option = make("option", "", text);
    option.value = String(i);
    toneSelect.append(option);
  });
  let tone = savedTone();
  toneSelect.value = String(tone);
  const tools = make("div", "emoji-tools");
  tools.append(searchLabel, search, toneLabel, toneSelect);
  const grid = make("div", "emoji-grid");
  grid.setAttribute("role", "group");
  grid.setAttribute("aria-label", label || "Emoji");
  const status = make("p", "emoji-status");
  status.setAttribute("role", "status");
  status.textContent = "Loading emoji…";
  root.append(tools, status, grid);

  const all = [];

  function buttons() {
    return [...grid.querySelectorAll(".emoji-option")].filter((b) => !b.hidden);
  }

  function makeFirstTabbable() {
    const list = buttons();
    for (const b of grid.querySelectorAll(".emoji-option")) b.tabIndex = -1;
    if (list[0]) list[0].tabIndex = 0;
  }

  function render(data) {
    const sections = data.groups.map((group) => {
      const section = make("section", "emoji-group");
      const heading = make("h3", "emoji-group-title", group.name);
      const row = make("div", "emoji-row");
      for (const entry of group.emoji) {
        const b = emojiButton(entry, action, tone);
        all.push({ entry, button: b, section });
        row.append(b);
      }
      section.append(heading, row);
      return section;
    });
    grid.replaceChildren(...sections);
    status.textContent = "";
    makeFirstTabbable();
  }

  function filter() {
    const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    const visible = new Set();
    for (const { entry, button: b, section } of all) {
      const on = !words.length || matches(entry, words);
      b.hidden = !on;
      if (on) {
        shown += 1;
        visible.add(section);
      }
    }
    for (const section of grid.children) section.hidden = !visible.has(section);
    status.textContent = words.length ? (shown ? `${shown} found` : "No emoji found.") : "";
    makeFirstTabbable();
  }

  search.addEventListener("input", filter);
  toneSelect.addEventListener("change", () => {
    tone = Number(toneSelect.value) || 0;
    saveTone(tone);
    for (const { entry, button: b } of all) {
      const emoji = spelled(entry, tone);
      b.textContent = emoji;
      b.dataset.emoji = emoji;
    }
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      const first = buttons()[0];
      if (first) first.click();
    } else if (event.key === "ArrowDown") {
      const first = buttons()[0];
      if (first) {
        event.preventDefault();
        first.focus();
      }
    }
  });

  // Arrow keys move in the grid (COLUMNS a row, as laid out).
  grid.addEventListener("keydown", (event) => {
    const list = buttons();
    const here = list.indexOf(event.target);
    if (here < 0) return;
    const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -COLUMNS, ArrowDown: COLUMNS };
    let next = null;
    if (event.key in moves) next = here + moves[event.key];
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = list.length - 1;
    if (next === null) return;
    event.preventDefault();
    event.stopPropagation();
    if (next < 0 && event.key === "ArrowUp") {
      search.focus();
      return;
    }
    const to = list[Math.max(0, Math.min(list.length - 1, next))];
    for (const b of list) b.tabIndex = -1;
    to.tabIndex = 0;
    to.focus();
  });

  if (onPick) {
    grid.addEventListener("click", (event) => {
      const b = event.target.closest(".emoji-option");
      if (b) onPick(b.dataset.emoji);
    });
  }

  loadCatalog().then((data) => {
    if (!data) {
      status.textContent = "The emoji could not be loaded. Try again later.";
      return;
    }
    render(data);
    if (search.value) filter();
  });

  root.focusSearch = () => search.focus({ preventScroll: true });
  return root;
}

// ------------------------------------------------ the composer's button

/** The Emoji button of a composer: inserts the chosen emoji at the caret. */
export function attachComposerEmoji(trigger, input) {
  let popover = null;

  function close(refocus) {
    if (!popover) return;
    popover.remove();
    popover = null;
    trigger.setAttribute("aria-expanded", "false");
    document.removeEventListener("click", outside, true);
    if (refocus) trigger.focus();
  }

  function outside(event) {
    if (popover && !popover.contains(event.target) && !trigger.contains(event.target)) close(false);
  }

  function open() {
    popover = make("div", "emoji-popover");
    popover.setAttribute("role", "dialog");
    popover.setAttribute("aria-label", "Insert an emoji");
    const browser = emojiBrowser({
      label: "Emoji",
      onPick: (emoji) => {
        const start = input.selectionStart ?? input.value.length;
        const end = input.selectionEnd ?? start;
        input.setRangeText(emoji, start, end, "end");
        close(false);
        input.focus();
        input.dispatchEvent(new Event("input", { bubbles: true }));
      },
    });
    popover.append(browser);
    popover.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        close(true);
      }
    });
    trigger.form.append(popover);
    trigger.setAttribute("aria-expanded", "true");
    document.addEventListener("click", outside, true);
    browser.focusSearch();
  }

  trigger.setAttribute("aria-expanded", "false");
  trigger.setAttribute("aria-haspopup", "dialog");
  trigger.addEventListener("click", () => (popover ? close(true) : open()));
  return { close };
}
