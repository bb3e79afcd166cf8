// chatroom — the Discover page: the global room, live over Socket.IO.
//
// Protocol: docs/realtime.md (SPEC §5). No framework, no build step.
// Security rule of this file: text from the server is only ever put into the
// page as text (textContent, Node.append(string)); never as HTML.
/* global io */
(() => {
  "use strict";

  const MAX_CHARS = 2000;
  const NEAR_LIMIT = 1800;
  const PAGE = 50;
  const CATCH_UP_PAGE = 100;
  const GROUP_WINDOW_MS = 5 * 60 * 1000;
  const TYPING_SEND_EVERY_MS = 2000;
  const TYPING_SHOWN_MS = 4000;
  const ACK_TIMEOUT_MS = 15000;
  const HISTORY_TIMEOUT_MS = 10000;
  const BOTTOM_SLACK_PX = 64;
  // The server lists at most this many people online (on request; fewer on
  // connect); past it, arrivals only move the count.
  const ONLINE_LIST_LIMIT = 200;
  const TOP_SLACK_PX = 240;
  const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;

  const byId = (id) => document.getElementById(id);
  const meta = document.querySelector('meta[name="chatroom-user"]');
  const el = {
    scroller: byId("messages"),
    list: byId("message-list"),
    historyStatus: byId("history-status"),
    newMessages: byId("new-messages"),
    connection: byId("connection"),
    typing: byId("typing"),
    form: byId("composer"),
    input: byId("message-input"),
    counter: byId("char-count"),
    send: byId("send-button"),
    online: byId("online-list"),
    onlineCount: byId("online-count"),
    onlineCountToggle: byId("online-count-toggle"),
    sidebar: byId("sidebar"),
    sidebarToggle: byId("sidebar-toggle"),
    sidebarClose: byId("sidebar-close"),
  };
  if (!meta || !el.list || !el.input || typeof io !== "function") {
    return;
  }
  const me = { id: Number(meta.getAttribute("content")), username: meta.dataset.username || "" };

  const rendered = new Map(); // message id → <li>
  const pending = new Map(); // local key → {key, text, li, state, timedOut}
  const online = new Map(); // user id → {id, username, avatar_url}
  const typers = new Map(); // user id → {username, until}
  let onlineCount = 0;
  let maxId = 0;
  let minId = Infinity;
  let loaded = false; // the first page of history is in
  let loadingLatest = false;
  let loadingOlder = false;
  let reachedStart = false;
  let catchingUp = false;
  let pinned = true; // the view follows new messages
  let lastTypingSent = 0;
  let pendingSeq = 0;
  let unread = 0;
  let typingTimer = 0;
  const baseTitle = document.title;

  const socket = io({ transports: ["websocket", "polling"] });

  // ------------------------------------------------------------ helpers

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
  const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
  const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
  const dayYearFormat = new Intl.DateTimeFormat(undefined, { month: "long", day: "numeric", year: "numeric" });

  // "5:09" — the clock without AM/PM, for the narrow gutter of grouped lines.
  function shortTime(date) {
    return timeFormat
      .formatToParts(date)
      .filter((part) => part.type !== "dayPeriod")
      .map((part) => part.value)
      .join("")
      .trim();
  }

  function dayKey(ms) {
    const d = new Date(ms);
    return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
  }

  function dayLabel(ms) {
    const date = new Date(ms);
    const today = new Date();
    const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (dayKey(ms) === dayKey(today.getTime())) return "Today";
    if (dayKey(ms) === dayKey(yesterday.getTime())) return "Yesterday";
    return date.getFullYear() === today.getFullYear() ? dayFormat.format(date) : dayYearFormat.format(date);
  }

  function isMessage(m) {
    return Boolean(m) && Number.isInteger(m.id) && typeof m.text === "string";
  }

  function isMine(m) {
    return Boolean(m.author) && m.author.id === me.id;
  }

  function ownAvatarUrl() {
    const mine = online.get(me.id);
    if (mine) return mine.avatar_url;
    const img = document.querySelector(".topbar-user img");
    return img ? img.getAttribute("src") : "";
  }

  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
  }

  const mentionPattern = me.username
    ? new RegExp(`(^|[^\\w.-])@${escapeRegExp(me.username)}(?![\\w-])`, "i")
    : null;

  // ----------------------------------------------------- text and links

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

  // Appends `text` to `parent` as text nodes, with http(s) URLs as links.
  function appendLinkified(parent, text) {
    let last = 0;
    for (const match of text.matchAll(URL_PATTERN)) {
      const url = trimUrl(match[0]);
      if (!isWebUrl(url)) continue;
      if (match.index > last) parent.append(text.slice(last, match.index));
      const link = make("a", "", url);
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      parent.append(link);
      last = match.index + url.length;
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  // ----------------------------------------------------------- messages

  function avatarFor(author) {
    if (!author) {
      const placeholder = make("span", "avatar avatar-placeholder");
      placeholder.setAttribute("aria-hidden", "true");
      return placeholder;
    }
    const img = make("img", "avatar");
    img.src = author.avatar_url;
    img.alt = "";
    img.width = 40;
    img.height = 40;
    img.decoding = "async";
    return img;
  }

  // One <li>: avatar, name, time, text (and a status line while pending).
  function buildMessage(m) {
    const li = make("li", "message");
    const author = m.author || null;
    const when = m.created_at ? new Date(m.created_at) : new Date();
    const time = Number.isNaN(when.getTime()) ? new Date() : when;
    li.dataset.author = author ? String(author.id) : "deleted";
    li.dataset.time = String(time.getTime());
    if (author && author.id === me.id) li.classList.add("is-mine");
    if (author && author.id !== me.id && mentionPattern && mentionPattern.test(m.text)) {
      li.classList.add("is-mention");
    }

    const row = make("div", "message-row");
    row.append(avatarFor(author));

    const stamp = make("span", "message-stamp", shortTime(time));
    stamp.setAttribute("aria-hidden", "true");
    row.append(stamp);

    const metaLine = make("div", "message-meta");
    metaLine.append(make("span", author ? "message-author" : "message-author is-deleted", author ? author.username : "Deleted user"));
    const timeEl = make("time", "message-time", timeFormat.format(time));
    timeEl.dateTime = time.toISOString();
    timeEl.title = fullFormat.format(time);
    metaLine.append(timeEl);
    row.append(metaLine);

    const body = make("div", "message-body");
    appendLinkified(body, m.text);
    row.append(body);

    li.append(row);
    return li;
  }

  // Decides, from the previous <li>, whether this one starts a new day and
  // whether it continues the same author's group (same author, < 5 min).
  function regroup(li) {
    if (!li) return;
    const prev = li.previousElementSibling;
    const time = Number(li.dataset.time);
    const prevTime = prev ? Number(prev.dataset.time) : NaN;
    const newDay = !prev || dayKey(time) !== dayKey(prevTime);
    const continues =
      !newDay &&
      li.dataset.author !== "deleted" &&
      prev.dataset.author === li.dataset.author &&
      Math.abs(time - prevTime) < GROUP_WINDOW_MS &&
      !prev.classList.contains("is-failed");
    li.classList.toggle("is-continuation", continues);
    li.classList.toggle("is-first", !continues);

    let divider = li.querySelector(":scope > .day-divider");
    if (newDay) {
      if (!divider) {
        divider = make("div", "day-divider");
        li.prepend(divider);
      }
      const label = dayLabel(time);
      if (divider.textContent !== label) divider.textContent = label;
    } else if (divider) {
      divider.remove();
    }
    li.classList.toggle("has-day", newDay);
  }

  // Where a confirmed message with this id goes: before the first confirmed
  // message with a larger id, and always before pending ones.
  function slotFor(id) {
    if (id > maxId) return el.list.querySelector(":scope > li[data-pending]");
    let node = el.list.lastElementChild;
    let before = null;
    while (node) {
      if (!node.dataset.pending && Number(node.dataset.id) < id) return node.nextElementSibling;
      before = node;
      node = node.previousElementSibling;
    }
    return before;
  }

  // Renders a confirmed message once, in id order. False when already shown.
  function insertMessage(m) {
    if (!isMessage(m) || rendered.has(m.id)) return false;
    const li = buildMessage(m);
    li.dataset.id = String(m.id);
    el.list.insertBefore(li, slotFor(m.id));
    rendered.set(m.id, li);
    maxId = Math.max(maxId, m.id);
    minId = Math.min(minId, m.id);
    regroup(li);
    regroup(li.nextElementSibling);
    return true;
  }

  // Messages that are new to this page (live, acked or caught up after a
  // reconnect): render, settle pending copies, then follow or offer to.
  function addNew(list, acked) {
    let added = 0;
    let mine = false;
    for (const m of list) {
      if (!insertMessage(m)) continue;
      added += 1;
      if (isMine(m)) {
        mine = true;
        if (!acked) settlePendingFor(m);
      } else {
        announce(m);
        if (m.author) typers.delete(m.author.id);
      }
    }
    if (!added) return;
    renderTyping();
    if (document.hidden && !mine) {
      unread += added;
      document.title = `(${unread}) ${baseTitle}`;
    }
    if (pinned || mine) {
      scrollToBottom();
    } else {
      el.newMessages.hidden = false;
    }
  }

  // A short spoken line per message from someone else: the list itself is
  // not a live region, so loading history is not read out. The region exists
  // from the start (screen readers ignore regions created with content).
  const announcer = make("div", "visually-hidden");
  announcer.setAttribute("role", "log");
  announcer.setAttribute("aria-live", "polite");
  el.form.after(announcer);

  function announce(m) {
    if (!loaded) return;
    announcer.append(make("p", "", `${m.author ? m.author.username : "Deleted user"}: ${m.text}`));
    while (announcer.childElementCount > 3) announcer.firstElementChild.remove();
  }

  // ---------------------------------------------------------- scrolling

  function distanceFromBottom() {
    const s = el.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight;
  }

  function scrollToBottom() {
    el.scroller.scrollTop = el.scroller.scrollHeight;
    pinned = true;
    el.newMessages.hidden = true;
  }

  el.scroller.addEventListener(
    "scroll",
    () => {
      pinned = distanceFromBottom() < BOTTOM_SLACK_PX;
      if (pinned) el.newMessages.hidden = true;
      if (el.scroller.scrollTop < TOP_SLACK_PX) loadOlder();
    },
    { passive: true },
  );

  // The composer growing (or the window shrinking) must not unpin the view.
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(() => {
      if (pinned) el.scroller.scrollTop = el.scroller.scrollHeight;
    }).observe(el.scroller);
  }

  el.newMessages.addEventListener("click", () => {
    scrollToBottom();
    el.input.focus();
  });

  // ------------------------------------------------------------ history

  function setHistoryStatus(text) {
    if (el.historyStatus.textContent !== text) el.historyStatus.textContent = text;
  }

  async function askHistory(query) {
    try {
      const reply = await socket.timeout(HISTORY_TIMEOUT_MS).emitWithAck("history", query);
      if (reply && reply.ok && Array.isArray(reply.messages)) return reply.messages.filter(isMessage);
    } catch {
      // timed out: treated like an error answer
    }
    return null;
  }

  async function loadLatest() {
    if (loadingLatest) return;
    loadingLatest = true;
    setHistoryStatus("Loading…");
    const list = await askHistory({ limit: PAGE });
    loadingLatest = false;
    if (!list) {
      setHistoryStatus("Could not load the conversation. Retrying…");
      setTimeout(() => {
        if (socket.connected && !loaded) loadLatest();
      }, 3000);
      return;
    }
    list.forEach(insertMessage);
    loaded = true;
    el.scroller.classList.add("is-loaded");
    reachedStart = list.length < PAGE;
    setHistoryStatus(reachedStart ? "Beginning of the conversation" : "");
    scrollToBottom();
    fillViewport();
  }

  // A first page shorter than the window shows no scrollbar to pull on.
  function fillViewport() {
    if (!reachedStart && el.scroller.scrollHeight <= el.scroller.clientHeight + 1) loadOlder();
  }

  async function loadOlder() {
    if (!loaded || loadingOlder || reachedStart || !socket.connected || minId === Infinity) return;
    loadingOlder = true;
    setHistoryStatus("Loading…");
    const list = await askHistory({ before: minId, limit: PAGE });
    loadingOlder = false;
    if (!list) {
      setHistoryStatus("");
      return;
    }
    // Keep what the reader is looking at in place while the list grows above it.
    const fromBottom = distanceFromBottom();
    list.forEach(insertMessage);
    reachedStart = list.length < PAGE;
    setHistoryStatus(reachedStart ? "Beginning of the conversation" : "");
    el.scroller.scrollTop = el.scroller.scrollHeight - el.scroller.clientHeight - fromBottom;
    fillViewport();
  }

  // After a reconnect: everything after the last id seen, page by page. The
  // cursor is our own: live messages and acks arriving meanwhile move maxId
  // past the gap still being fetched.
  async function catchUp() {
    if (catchingUp) return;
    catchingUp = true;
    let cursor = maxId;
    try {
      for (;;) {
        const list = await askHistory({ after: cursor, limit: CATCH_UP_PAGE });
        if (!list) break;
        addNew(list);
        if (list.length < CATCH_UP_PAGE) break;
        cursor = Math.max(cursor, ...list.map((m) => m.id));
      }
    } finally {
      catchingUp = false;
    }
  }

  socket.on("message", (m) => {
    if (isMessage(m)) addNew([m]);
  });

  // ------------------------------------------------------------ sending

  function statusLine(entry) {
    let line = entry.li.querySelector(".message-status");
    if (!line) {
      line = make("div", "message-status");
      entry.li.querySelector(".message-row").append(line);
    }
    return line;
  }

  function setEntryState(entry, state, text) {
    entry.state = state;
    entry.li.classList.toggle("is-pending", state !== "failed");
    entry.li.classList.toggle("is-failed", state === "failed");
    const line = statusLine(entry);
    line.textContent = text;
    if (state === "failed") {
      const retry = make("button", "button button-sm", "Retry");
      retry.type = "button";
      retry.addEventListener("click", () => deliver(entry));
      const discard = make("button", "button button-sm button-ghost", "Discard");
      discard.type = "button";
      discard.addEventListener("click", () => {
        dropEntry(entry);
        el.input.focus();
      });
      line.append(retry, discard);
    }
    regroup(entry.li.nextElementSibling);
  }

  function dropEntry(entry) {
    pending.delete(entry.key);
    const next = entry.li.nextElementSibling;
    entry.li.remove();
    regroup(next);
  }

  // The confirmed message replaces its pending copy.
  function settle(entry, m) {
    dropEntry(entry);
    addNew([m], true);
  }

  // A message of ours arrived by broadcast or history before its ack (or
  // after the ack timed out): drop the matching pending copy.
  function settlePendingFor(m) {
    for (const entry of pending.values()) {
      if ((entry.state === "sending" || entry.timedOut) && entry.text === m.text) {
        dropEntry(entry);
        return;
      }
    }
  }

  function errorText(error) {
    const code = error && error.code;
    if (code === "rate_limited") return "Not sent: you are sending messages too fast. Wait a moment, then retry.";
    if (code === "validation_failed") return "Not sent: a message has 1 to 2000 characters and no control characters.";
    const text = error && typeof error.message === "string" ? error.message.trim() : "";
    return text ? `Not sent: ${text}` : "Not sent.";
  }

  async function deliver(entry) {
    if (!socket.connected) {
      setEntryState(entry, "queued", "Waiting for the connection…");
      return;
    }
    entry.timedOut = false;
    setEntryState(entry, "sending", "Sending…");
    let ack;
    try {
      ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck("message", { text: entry.text });
    } catch {
      if (pending.get(entry.key) === entry) {
        entry.timedOut = true;
        setEntryState(entry, "failed", "Not sent: no answer from the server.");
      }
      return;
    }
    if (pending.get(entry.key) !== entry) return; // settled by the broadcast, or discarded
    if (ack && ack.ok && isMessage(ack.message)) {
      settle(entry, ack.message);
    } else {
      setEntryState(entry, "failed", errorText(ack && ack.error));
    }
  }

  function flushQueued() {
    for (const entry of pending.values()) {
      if (entry.state === "queued") deliver(entry);
    }
  }

  function send() {
    const text = el.input.value.trim();
    if (!text || text.length > MAX_CHARS) return;
    pendingSeq += 1;
    const key = `p${pendingSeq}`;
    const li = buildMessage({
      author: { id: me.id, username: me.username, avatar_url: ownAvatarUrl() },
      text,
      created_at: new Date().toISOString(),
    });
    li.dataset.pending = key;
    el.list.append(li);
    regroup(li);
    const entry = { key, text, li, state: "sending", timedOut: false };
    pending.set(key, entry);
    el.input.value = "";
    lastTypingSent = 0;
    updateComposer();
    deliver(entry);
    scrollToBottom();
  }

  // ----------------------------------------------------------- composer

  const autoSizes = typeof CSS !== "undefined" && CSS.supports && CSS.supports("field-sizing", "content");

  function updateComposer() {
    const input = el.input;
    if (!autoSizes) {
      input.style.height = "auto";
      input.style.height = `${Math.min(input.scrollHeight + 2, 200)}px`;
    }
    const length = input.value.length;
    el.counter.textContent = length >= NEAR_LIMIT ? `${length} / ${MAX_CHARS}` : "";
    el.counter.classList.toggle("is-near", length >= NEAR_LIMIT && length < MAX_CHARS);
    el.counter.classList.toggle("is-limit", length >= MAX_CHARS);
    const empty = input.value.trim() === "";
    el.send.setAttribute("aria-disabled", String(empty || length > MAX_CHARS));
  }

  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
    el.input.focus();
  });

  el.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      send();
    }
  });

  el.input.addEventListener("input", () => {
    updateComposer();
    const now = Date.now();
    if (socket.connected && el.input.value.trim() && now - lastTypingSent >= TYPING_SEND_EVERY_MS) {
      lastTypingSent = now;
      socket.volatile.emit("typing", {});
    }
  });

  // ----------------------------------------------------------- presence

  function renderOnline() {
    const people = [...online.values()].sort((a, b) => {
      const x = a.username.toLowerCase();
      const y = b.username.toLowerCase();
      return x < y ? -1 : x > y ? 1 : a.id - b.id;
    });
    const items = people.map((user) => {
      const li = make("li", "online-item");
      const avatar = make("span", "online-avatar");
      const img = make("img", "avatar avatar-sm");
      img.src = user.avatar_url;
      img.alt = "";
      img.width = 32;
      img.height = 32;
      img.decoding = "async";
      avatar.append(img);
      li.append(avatar, make("span", "online-name", user.username));
      if (user.id === me.id) li.append(make("span", "online-you", "(you)"));
      return li;
    });
    el.online.replaceChildren(...items);

    const total = Math.max(onlineCount, online.size);
    el.onlineCount.textContent = String(total);
    el.onlineCountToggle.textContent = String(total);
    let more = el.sidebar.querySelector(".online-more");
    if (total > online.size) {
      if (!more) {
        more = make("p", "online-more");
        el.online.after(more);
      }
      more.textContent = `and ${total - online.size} more`;
    } else if (more) {
      more.remove();
    }
  }

  const validUser = (u) => Boolean(u) && Number.isInteger(u.id) && typeof u.username === "string";

  socket.on("presence", (snapshot) => {
    online.clear();
    for (const user of (snapshot && snapshot.online) || []) {
      if (validUser(user)) online.set(user.id, user);
    }
    onlineCount = snapshot && Number.isInteger(snapshot.count) ? snapshot.count : online.size;
    renderOnline();
    // The list sent on connect is short; a room of up to 200 is listed in full on request.
    if (onlineCount <= ONLINE_LIST_LIMIT && online.size < onlineCount) refreshOnline(0);
  });

  socket.on("presence_diff", (diff) => {
    if (!diff) return;
    for (const user of diff.left || []) {
      if (!validUser(user)) continue;
      online.delete(user.id);
      typers.delete(user.id);
    }
    for (const user of diff.joined || []) {
      if (validUser(user)) online.set(user.id, user);
    }
    onlineCount = Number.isInteger(diff.count) ? diff.count : online.size;
    renderOnline();
    renderTyping();
    if (onlineCount <= ONLINE_LIST_LIMIT && online.size < onlineCount) refreshOnline(2000);
  });

  let refreshing = null;
  function refreshOnline(spreadMs) {
    if (refreshing) return;
    // Spread out, so a whole room is not asking at the same moment.
    refreshing = setTimeout(async () => {
      try {
        const reply = await socket.timeout(HISTORY_TIMEOUT_MS).emitWithAck("presence", {});
        if (reply && reply.ok) {
          online.clear();
          for (const user of reply.online || []) {
            if (validUser(user)) online.set(user.id, user);
          }
          onlineCount = Number.isInteger(reply.count) ? reply.count : online.size;
          renderOnline();
        }
      } catch (_) {
        // Disconnected meanwhile: the next connect sends a fresh list.
      } finally {
        refreshing = null;
      }
    }, 100 + Math.random() * spreadMs);
  }

  // ------------------------------------------------------------- typing

  function renderTyping() {
    const now = Date.now();
    for (const [id, entry] of typers) {
      if (entry.until <= now) typers.delete(id);
    }
    const names = [...typers.values()].map((entry) => entry.username);
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = "Several people are typing…";
    if (el.typing.textContent !== text) el.typing.textContent = text;

    clearTimeout(typingTimer);
    if (typers.size) {
      const next = Math.min(...[...typers.values()].map((entry) => entry.until));
      typingTimer = setTimeout(renderTyping, Math.max(50, next - now));
    }
  }

  socket.on("typing", (payload) => {
    const user = payload && payload.user;
    if (!validUser(user) || user.id === me.id) return;
    typers.delete(user.id); // re-inserted: the order is who typed first
    typers.set(user.id, { username: user.username, until: Date.now() + TYPING_SHOWN_MS });
    renderTyping();
  });

  // --------------------------------------------------------- connection

  const STATES = { connected: "Connected", reconnecting: "Reconnecting…", offline: "Offline" };

  function setConnection(state) {
    if (el.connection.dataset.state === state) return;
    el.connection.dataset.state = state;
    el.connection.textContent = STATES[state];
  }

  socket.on("connect", () => {
    setConnection("connected");
    if (!loaded) loadLatest();
    else catchUp();
    flushQueued();
  });

  socket.on("disconnect", (reason) => {
    typers.clear();
    renderTyping();
    if (reason === "io server disconnect") {
      // The server closed us on purpose (session ended elsewhere, …). Try
      // again: the handshake says whether we are still signed in.
      setConnection("reconnecting");
      setTimeout(() => socket.connect(), 1000);
    } else {
      setConnection(navigator.onLine === false ? "offline" : "reconnecting");
    }
  });

  socket.on("connect_error", (err) => {
    if (err && err.message === "unauthenticated") {
      setConnection("offline");
      window.location.assign("/login");
      return;
    }
    setConnection(navigator.onLine === false || !socket.active ? "offline" : "reconnecting");
    if (!socket.active) {
      // The server turned the handshake down for a passing reason (its
      // message is then "unavailable"): try again shortly.
      setTimeout(() => {
        if (!socket.connected) socket.connect();
      }, 1500 + Math.random() * 1500);
    }
  });

  window.addEventListener("offline", () => {
    if (!socket.connected) setConnection("offline");
  });

  window.addEventListener("online", () => {
    if (!socket.connected) {
      setConnection("reconnecting");
      if (!socket.active) socket.connect();
    }
  });

  // ------------------------------------------------------------ sidebar

  function setSidebar(open, returnFocus) {
    el.sidebar.classList.toggle("is-open", open);
    el.sidebarToggle.setAttribute("aria-expanded", String(open));
    if (open) el.sidebar.focus({ preventScroll: true });
    else if (returnFocus) el.sidebarToggle.focus();
  }

  const sidebarOpen = () => el.sidebar.classList.contains("is-open");

  el.sidebarToggle.addEventListener("click", () => setSidebar(!sidebarOpen(), false));
  if (el.sidebarClose) el.sidebarClose.addEventListener("click", () => setSidebar(false, true));

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && sidebarOpen()) setSidebar(false, true);
  });

  document.addEventListener("click", (event) => {
    if (sidebarOpen() && !el.sidebar.contains(event.target) && !el.sidebarToggle.contains(event.target)) {
      setSidebar(false, false);
    }
  });

  // ------------------------------------------------------------- unread

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && unread) {
      unread = 0;
      document.title = baseTitle;
    }
  });

  updateComposer();
  if (window.matchMedia("(hover: hover) and (pointer: fine)").matches) {
    el.input.focus({ preventScroll: true });
  }
})();
