// chatroom — the Discover page's chat, helpers (DOM building, times, the JSON
// API, acks) and message text (links, mentions).
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML. The one exception is a message's
// `html`, rendered and sanitized by the server (docs/threads.md): it is
// parsed inert (appendFormatted) and checked again against the same short
// list of elements and link schemes before it joins the page.

import { ACK_TIMEOUT_MS, GLOBAL, MENTION_PATTERN, URL_PATTERN, me, online, socket } from "./state.js";

// ------------------------------------------------------------ helpers

export function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function button(text, className, action) {
  const b = make("button", className, text);
  b.type = "button";
  if (action) b.dataset.action = action;
  return b;
}

export const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
export const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
export const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
const dayYearFormat = new Intl.DateTimeFormat(undefined, { month: "long", day: "numeric", year: "numeric" });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

// "5:09" — the clock without AM/PM, for the narrow gutter of grouped lines.
export function shortTime(date) {
  return timeFormat
    .formatToParts(date)
    .filter((part) => part.type !== "dayPeriod")
    .map((part) => part.value)
    .join("")
    .trim();
}

export function dayKey(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function dayLabel(ms) {
  const date = new Date(ms);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(ms) === dayKey(today.getTime())) return "Today";
  if (dayKey(ms) === dayKey(yesterday.getTime())) return "Yesterday";
  return date.getFullYear() === today.getFullYear() ? dayFormat.format(date) : dayYearFormat.format(date);
}

export function parseTime(text) {
  const date = text ? new Date(text) : new Date();
  return Number.isNaN(date.getTime()) ? new Date() : date;
}

// "5 minutes ago", "yesterday", …
export function ago(text) {
  const seconds = (parseTime(text).getTime() - Date.now()) / 1000;
  const steps = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [7, "day"],
    [4.35, "week"],
    [12, "month"],
    [Infinity, "year"],
  ];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) return relativeFormat.format(Math.round(value), unit);
    value /= size;
  }
  return "";
}

export function isMessage(m) {
  return Boolean(m) && Number.isInteger(m.id) && typeof m.text === "string";
}

export const roomOf = (m) => (m && typeof m.room === "string" && m.room ? m.room : GLOBAL);

export function isMine(m) {
  return Boolean(m.author) && m.author.id === me.id;
}

export function ownAvatarUrl() {
  const mine = online.get(me.id);
  if (mine) return mine.avatar_url;
  const img = document.querySelector(".topbar-user img");
  return img ? img.getAttribute("src") : "";
}

export function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
}

const mentionPattern = me.username
  ? new RegExp(`(^|[^\\w.-])@${escapeRegExp(me.username)}(?![\\w-])`, "i")
  : null;

export function mentionsMe(m) {
  return !m.deleted && !isMine(m) && Boolean(mentionPattern) && mentionPattern.test(m.text);
}

// JSON over fetch with the session cookie. Never throws: {ok, status, data, error}.
export async function api(method, path, body) {
  const init = { method, headers: { accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    return { ok: false, status: 0, data: null, error: { code: "network", message: "No connection to the server." } };
  }
  let data = null;
  if (res.status !== 204) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  if (res.status === 401) window.location.assign("/login");
  if (res.ok) return { ok: true, status: res.status, data, error: null };
  const error = data && data.error ? data.error : { code: `http_${res.status}`, message: "" };
  return { ok: false, status: res.status, data, error };
}

// A socket event with an acknowledgement; null when none came in time.
export async function ask(event, payload, timeoutMs = ACK_TIMEOUT_MS) {
  try {
    return await socket.timeout(timeoutMs).emitWithAck(event, payload);
  } catch {
    return null;
  }
}

// A mouse or trackpad: focusing the composer will not pop up a keyboard.
export const wide = () => window.matchMedia("(hover: hover) and (pointer: fine)").matches;

// Re-renders `container` and gives focus back to the element with the same key.
export function keepingFocus(container, attr, render) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.getAttribute(attr) : null;
  render();
  if (key === null) return;
  const again = container.querySelector(`[${attr}="${CSS.escape(key)}"]`);
  if (again) again.focus({ preventScroll: true });
}

export function errorMessage(error, fallback) {
  const text = error && typeof error.message === "string" ? error.message.trim() : "";
  return text || fallback;
}

// ------------------------------------------------------------- text

// Trailing punctuation belongs to the sentence, not to the URL; closing
// brackets stay when the URL opened them (wikipedia.org/wiki/A_(b)).
function trimUrl(url) {
  const pairs = { ")": "(", "]": "[", "}": "{" };
  const count = (s, ch) => s.split(ch).length - 1;
  for (;;) {
    const last = url.slice(-1);
    if (/[.,;:!?*_~'"»…]/.test(last)) {
      url = url.slice(0, -1);
    } else if (pairs[last] && count(url, last) > count(url, pairs[last])) {
      url = url.slice(0, -1);
    } else {
      return url;
    }
  }
}

function isWebUrl(text) {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

// Appends `text` with @username tokens as highlighted spans.
function appendMentions(parent, text) {
  let last = 0;
  const mine = me.username.toLowerCase();
  for (const match of text.matchAll(MENTION_PATTERN)) {
    const name = match[2].replace(/\.+$/, ""); // "@bob." ends a sentence
    if (name.length < 3) continue;
    const start = match.index + match[1].length;
    if (start > last) parent.append(text.slice(last, start));
    const span = make("span", "mention", `@${name}`);
    if (name.toLowerCase() === mine) span.classList.add("is-me");
    parent.append(span);
    last = start + 1 + name.length;
  }
  if (last < text.length) parent.append(text.slice(last));
}

// Appends `text` to `parent` as text nodes, with http(s) URLs as links.
// (appendFormatted below is for a message's server-rendered html.)
export function appendLinkified(parent, text) {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const url = trimUrl(match[0]);
    if (!isWebUrl(url)) continue;
    if (match.index > last) appendMentions(parent, text.slice(last, match.index));
    const link = make("a", "", url);
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer nofollow";
    parent.append(link);
    last = match.index + url.length;
  }
  if (last < text.length) appendMentions(parent, text.slice(last));
}

// ------------------------------------------------------- formatted text

// What the server lets through (docs/threads.md, "Formatting"); the page
// checks again, so that a server bug can never become a script here.
const FORMAT_TAGS = new Set(["P", "BR", "STRONG", "EM", "DEL", "CODE", "PRE", "BLOCKQUOTE", "UL", "OL", "LI", "A"]);
const DROPPED_TAGS = new Set(["SCRIPT", "STYLE", "TEMPLATE", "IFRAME", "OBJECT", "EMBED", "SVG", "MATH", "NOSCRIPT", "TEXTAREA", "TITLE"]);
const LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

function safeHref(value) {
  try {
    const url = new URL(value);
    return LINK_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null; // relative or broken: not a link
  }
}

// Keeps the allowed elements (with href on links and start on lists only);
// any other element gives way to its content, or goes entirely.
function cleanChildren(node) {
  for (const child of [...node.childNodes]) {
    if (child.nodeType === Node.TEXT_NODE) continue;
    if (child.nodeType !== Node.ELEMENT_NODE || DROPPED_TAGS.has(child.tagName)) {
      child.remove();
      continue;
    }
    cleanChildren(child);
    const href = child.tagName === "A" ? safeHref(child.getAttribute("href") || "") : null;
    if (!FORMAT_TAGS.has(child.tagName) || (child.tagName === "A" && !href)) {
      child.replaceWith(...child.childNodes);
      continue;
    }
    const start = child.tagName === "OL" ? child.getAttribute("start") : null;
    for (const name of child.getAttributeNames()) child.removeAttribute(name);
    if (start !== null && /^\d{1,9}$/.test(start)) child.setAttribute("start", start);
    if (href) {
      child.setAttribute("href", href);
      child.target = "_blank";
      child.rel = "noopener noreferrer nofollow";
    }
  }
}

// Whitespace-only text between blocks (the renderer's newlines).
function dropBlankLines(node) {
  for (const child of [...node.childNodes]) {
    if (child.nodeType === Node.TEXT_NODE && child.data.trim() === "") child.remove();
  }
}

// @username tokens in the text outside links and code become highlighted
// spans, as in plain messages.
function highlightMentions(root) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) =>
      node.parentElement && node.parentElement.closest("a, code, pre") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
  });
  const hits = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.data.includes("@")) hits.push(node);
  }
  for (const node of hits) {
    const piece = document.createDocumentFragment();
    appendMentions(piece, node.data);
    node.replaceWith(piece);
  }
}

// Appends a message's server-rendered html (docs/threads.md) to `parent`.
// A <template> parses it inert: nothing in it runs or loads while it is
// checked. The line breaks between blocks go (the text reads as typed);
// code blocks join the Tab order, to be scrolled sideways with the keys.
export function appendFormatted(parent, html) {
  const template = document.createElement("template");
  template.innerHTML = html; // the server's sanitized `html` field, and nothing else
  const content = template.content;
  cleanChildren(content);
  dropBlankLines(content);
  for (const block of content.querySelectorAll("ul, ol, blockquote")) dropBlankLines(block);
  highlightMentions(content);
  for (const pre of content.querySelectorAll("pre")) pre.tabIndex = 0;
  parent.append(content);
}

// The first words of a message, as text, for lists and labels.
export function excerpt(text, length = 140) {
  const flat = String(text || "").replace(/\s+/g, " ").trim();
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat;
}
