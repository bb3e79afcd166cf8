// chatroom — the Discover page: conversations (the global room, public rooms,
// direct messages), live over Socket.IO.
//
// Protocol: docs/realtime.md (SPEC §5) and docs/rooms.md. No framework, no
// build step. Security rule of this file: text from the server is only ever
// put into the page as text (textContent, Node.append(string)); never as HTML.
//
// Sections: constants & state · helpers · text · messages · list · scrolling
// · history · live events · sending · message actions · composer ·
// conversations · read markers · directory · search · presence & people ·
// typing · notifications · connection · drawers · start.
/* global io */
(() => {
  "use strict";

  // ------------------------------------------------- constants and state

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
  const HIGHLIGHT_MS = 2500;
  const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  const MENTION_PATTERN = /(^|[^A-Za-z0-9_.@-])@([A-Za-z0-9_.-]{3,32})/g;
  const UNREAD_CAP = 100; // the server counts up to 100: "100 or more"
  const GLOBAL = "global";
  const EMOJI = [
    ["👍", "thumbs up"],
    ["❤️", "heart"],
    ["😂", "laughing"],
    ["🎉", "party"],
    ["😮", "surprised"],
    ["😢", "sad"],
  ];

  const byId = (id) => document.getElementById(id);
  const meta = document.querySelector('meta[name="chatroom-user"]');
  const el = {
    layout: document.querySelector(".chat-layout"),
    chat: byId("chat"),
    scroller: byId("messages"),
    list: byId("message-list"),
    historyStatus: byId("history-status"),
    newMessages: byId("new-messages"),
    connection: byId("connection"),
    notice: byId("chat-notice"),
    typing: byId("typing"),
    form: byId("composer"),
    input: byId("message-input"),
    counter: byId("char-count"),
    send: byId("send-button"),
    chatHash: byId("chat-hash"),
    chatName: byId("chat-name"),
    chatTopic: byId("chat-topic"),
    chatMembers: byId("chat-members"),
    leave: byId("leave-room"),
    nav: byId("rooms-nav"),
    navToggle: byId("rooms-toggle"),
    navToggleCount: byId("rooms-toggle-count"),
    navClose: byId("rooms-nav-close"),
    roomList: byId("room-list"),
    dmList: byId("dm-list"),
    dmEmpty: byId("dm-empty"),
    openDirectory: byId("open-directory"),
    openSearch: byId("open-search"),
    notifyButton: byId("enable-notifications"),
    notifyStatus: byId("notifications-status"),
    directory: byId("directory"),
    directoryClose: byId("directory-close"),
    roomSearchForm: byId("room-search-form"),
    roomSearch: byId("room-search"),
    directoryStatus: byId("directory-status"),
    directoryList: byId("directory-list"),
    createForm: byId("create-room"),
    createError: byId("create-room-error"),
    roomName: byId("room-name"),
    roomNameError: byId("room-name-error"),
    roomTopic: byId("room-topic"),
    roomTopicError: byId("room-topic-error"),
    searchTemplate: byId("search-template"),
    online: byId("online-list"),
    onlineCount: byId("online-count"),
    onlineCountToggle: byId("online-count-toggle"),
    sidebar: byId("sidebar"),
    sidebarToggle: byId("sidebar-toggle"),
    sidebarClose: byId("sidebar-close"),
    card: byId("profile-card"),
    cardClose: byId("profile-card-close"),
    cardAvatar: byId("profile-card-avatar"),
    cardName: byId("profile-card-name"),
    cardStatus: byId("profile-card-status"),
    cardDm: byId("profile-card-dm"),
    cardSuspend: byId("profile-card-suspend"),
  };
  if (!meta || !el.list || !el.input || typeof io !== "function") {
    return;
  }
  const me = {
    id: Number(meta.getAttribute("content")),
    username: meta.dataset.username || "",
    isAdmin: meta.dataset.admin === "true", // admins may delete anyone's message
  };

  // The open conversation's list.
  const rendered = new Map(); // message id → <li>
  const known = new Map(); // message id → the latest message object
  let current = GLOBAL;
  let viewSeq = 0; // bumped on every switch: late answers for another view are dropped
  let maxId = 0;
  let minId = Infinity;
  let loaded = false; // the first page of history is in
  let loadingLatest = false;
  let loadingOlder = false;
  let loadingNewer = false;
  let reachedStart = false;
  let reachedEnd = true; // false after jumping back to an older message
  let catchingUp = false;
  let pinned = true; // the view follows new messages
  let view = "chat"; // chat | directory | search

  // Everything else.
  const rooms = new Map(); // room id → room (+ unread, mentions, last_read_id)
  const lastSeen = new Map(); // room id → newest message id this page saw
  const pending = new Map(); // local key → {key, room, text, li, state, timedOut}
  const online = new Map(); // user id → {id, username, avatar_url}
  const typers = new Map(); // user id → {username, until}
  let onlineCount = 0;
  let lastTypingSent = 0;
  let pendingSeq = 0;
  let unread = 0; // shown in the tab title while the page is hidden
  let typingTimer = 0;
  let everConnected = false;
  const baseTitle = document.title;

  const socket = io({ transports: ["websocket", "polling"] });

  // ------------------------------------------------------------ helpers

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(text, className, action) {
    const b = make("button", className, text);
    b.type = "button";
    if (action) b.dataset.action = action;
    return b;
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
  const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
  const dayYearFormat = new Intl.DateTimeFormat(undefined, { month: "long", day: "numeric", year: "numeric" });
  const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

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

  function parseTime(text) {
    const date = text ? new Date(text) : new Date();
    return Number.isNaN(date.getTime()) ? new Date() : date;
  }

  // "5 minutes ago", "yesterday", …
  function ago(text) {
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

  function isMessage(m) {
    return Boolean(m) && Number.isInteger(m.id) && typeof m.text === "string";
  }

  const roomOf = (m) => (m && typeof m.room === "string" && m.room ? m.room : GLOBAL);

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

  function mentionsMe(m) {
    return !m.deleted && !isMine(m) && Boolean(mentionPattern) && mentionPattern.test(m.text);
  }

  // JSON over fetch with the session cookie. Never throws: {ok, status, data, error}.
  async function api(method, path, body) {
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
  async function ask(event, payload, timeoutMs = ACK_TIMEOUT_MS) {
    try {
      return await socket.timeout(timeoutMs).emitWithAck(event, payload);
    } catch {
      return null;
    }
  }

  // Re-renders `container` and gives focus back to the element with the same key.
  function keepingFocus(container, attr, render) {
    const active = document.activeElement;
    const key = active && container.contains(active) ? active.getAttribute(attr) : null;
    render();
    if (key === null) return;
    const again = container.querySelector(`[${attr}="${CSS.escape(key)}"]`);
    if (again) again.focus({ preventScroll: true });
  }

  function errorMessage(error, fallback) {
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
  function appendLinkified(parent, text) {
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

  // ----------------------------------------------------------- messages

  function avatarFor(author, size = 40) {
    if (!author) {
      const placeholder = make("span", "avatar avatar-placeholder");
      placeholder.setAttribute("aria-hidden", "true");
      return placeholder;
    }
    const img = make("img", size === 40 ? "avatar" : "avatar avatar-sm");
    img.src = author.avatar_url;
    img.alt = "";
    img.width = size;
    img.height = size;
    img.decoding = "async";
    return img;
  }

  function reactionsFor(m) {
    const wrap = make("div", "reactions");
    for (const r of Array.isArray(m.reactions) ? m.reactions : []) {
      if (!r || typeof r.emoji !== "string" || !(r.count > 0)) continue;
      const users = Array.isArray(r.users) ? r.users.filter((u) => u && typeof u.username === "string") : [];
      const mine = users.some((u) => u.id === me.id);
      const chip = button("", "reaction", "toggle-reaction");
      chip.dataset.emoji = r.emoji;
      chip.tabIndex = -1;
      chip.setAttribute("aria-pressed", String(mine));
      chip.append(make("span", "reaction-emoji", r.emoji), make("span", "reaction-count", String(r.count)));
      const names = users.map((u) => (u.id === me.id ? "you" : u.username)).join(", ");
      chip.title = names ? `${names} reacted with ${r.emoji}` : `${r.count} reacted with ${r.emoji}`;
      chip.setAttribute("aria-label", `${r.emoji} ${r.count}${names ? `: ${names}` : ""}`);
      wrap.append(chip);
    }
    return wrap.childElementCount ? wrap : null;
  }

  // Hover/focus actions: React for everyone, Edit for the author, Delete for
  // the author and admins. Buttons join the Tab order only while their line
  // holds focus (arrow keys move between lines), so the page stays quick to
  // cross with Tab.
  function actionsFor(m) {
    if (!Number.isInteger(m.id) || m.deleted) return null;
    const bar = make("div", "message-actions");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Actions");
    const list = [button("React", "action", "react")];
    if (isMine(m)) list.push(button("Edit", "action", "edit"));
    if (isMine(m) || me.isAdmin) list.push(button("Delete", "action action-danger", "delete"));
    for (const b of list) b.tabIndex = -1;
    bar.append(...list);
    return bar;
  }

  // One <li>: avatar, name, time, text, reactions, actions (and a status
  // line while pending).
  function buildMessage(m) {
    const li = make("li", "message");
    const author = m.author || null;
    const time = parseTime(m.created_at);
    li.dataset.author = author ? String(author.id) : "deleted";
    li.dataset.time = String(time.getTime());
    if (author && author.id === me.id) li.classList.add("is-mine");
    if (mentionsMe(m)) li.classList.add("is-mention");
    if (m.deleted) li.classList.add("is-deleted");

    const row = make("div", "message-row");
    if (Number.isInteger(m.id)) row.tabIndex = -1;
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

    const content = make("div", "message-content");
    if (m.deleted) {
      content.append(make("div", "message-body is-deleted", "This message was deleted"));
    } else {
      const body = make("div", "message-body");
      appendLinkified(body, m.text);
      content.append(body);
      if (m.edited_at) {
        const edited = make("span", "message-edited", "(edited)");
        edited.title = `Edited ${fullFormat.format(parseTime(m.edited_at))}`;
        content.append(" ", edited);
      }
    }
    row.append(content);

    const reactions = m.deleted ? null : reactionsFor(m);
    if (reactions) row.append(reactions);
    const actions = actionsFor(m);
    if (actions) row.append(actions);

    li.append(row);
    return li;
  }

  // --------------------------------------------------------------- list

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

  function noteSeen(room, id) {
    if (id > (lastSeen.get(room) || 0)) lastSeen.set(room, id);
  }

  // Renders a confirmed message of the open conversation once, in id order.
  // False when already shown or not of this conversation.
  function insertMessage(m) {
    if (!isMessage(m) || rendered.has(m.id) || roomOf(m) !== current) return false;
    const li = buildMessage(m);
    li.dataset.id = String(m.id);
    el.list.insertBefore(li, slotFor(m.id));
    rendered.set(m.id, li);
    known.set(m.id, m);
    maxId = Math.max(maxId, m.id);
    minId = Math.min(minId, m.id);
    noteSeen(current, m.id);
    regroup(li);
    regroup(li.nextElementSibling);
    return true;
  }

  // A changed message (edit, delete, reaction) replaces its line in place.
  function replaceMessage(m) {
    if (!isMessage(m) || roomOf(m) !== current) return;
    const old = rendered.get(m.id);
    if (!old) return;
    known.set(m.id, m);
    if (old.classList.contains("is-editing")) return; // applied when the editor closes
    if (picker && picker.li === old) closePicker();
    const focused = old.contains(document.activeElement) ? document.activeElement : null;
    const li = buildMessage(m);
    li.dataset.id = String(m.id);
    for (const name of ["is-highlighted"]) li.classList.toggle(name, old.classList.contains(name));
    old.replaceWith(li);
    rendered.set(m.id, li);
    regroup(li);
    regroup(li.nextElementSibling);
    if (focused) restoreFocus(li, focused);
  }

  function restoreFocus(li, was) {
    const action = was.dataset ? was.dataset.action : "";
    let target = null;
    if (action === "toggle-reaction") {
      target = [...li.querySelectorAll('[data-action="toggle-reaction"]')].find((b) => b.dataset.emoji === was.dataset.emoji);
    } else if (action) {
      target = li.querySelector(`[data-action="${action}"]`);
    }
    (target || li.querySelector(".message-row")).focus({ preventScroll: true });
  }

  // Messages that are new to this page (live, acked or caught up after a
  // reconnect): render, settle pending copies, then follow or offer to.
  function addNew(list, acked) {
    let added = 0;
    let mine = false;
    for (const m of list) {
      if (roomOf(m) !== current) {
        if (!acked) otherRoomMessage(m);
        continue;
      }
      touchRoom(current, m);
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
    if (!mine && document.hidden) {
      unread += added;
      document.title = `(${unread}) ${baseTitle}`;
    }
    if (!mine && pageHidden()) {
      const room = rooms.get(current);
      if (room) {
        room.unread = Math.min(UNREAD_CAP, (room.unread || 0) + added);
        renderRooms();
      }
    }
    if (pinned || mine) {
      scrollToBottom();
    } else {
      el.newMessages.hidden = false;
    }
    scheduleRead();
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

  // Empties the list for another conversation (or a fresh load of this one).
  function resetList() {
    viewSeq += 1;
    rendered.clear();
    known.clear();
    el.list.replaceChildren();
    maxId = 0;
    minId = Infinity;
    loaded = false;
    loadingLatest = false;
    loadingOlder = false;
    loadingNewer = false;
    catchingUp = false;
    reachedStart = false;
    reachedEnd = true;
    pinned = true;
    el.newMessages.hidden = true;
    el.scroller.classList.remove("is-loaded");
    setHistoryStatus("");
    closePicker();
    // Unsent messages of this conversation come back below its history.
    for (const entry of pending.values()) {
      if (entry.room === current) el.list.append(entry.li);
    }
    for (const li of el.list.children) regroup(li);
  }

  // ---------------------------------------------------------- scrolling

  function distanceFromBottom() {
    const s = el.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight;
  }

  function scrollToBottom() {
    if (!reachedEnd) return;
    el.scroller.scrollTop = el.scroller.scrollHeight;
    pinned = true;
    el.newMessages.hidden = true;
  }

  el.scroller.addEventListener(
    "scroll",
    () => {
      const fromBottom = distanceFromBottom();
      pinned = reachedEnd && fromBottom < BOTTOM_SLACK_PX;
      if (pinned) el.newMessages.hidden = true;
      if (el.scroller.scrollTop < TOP_SLACK_PX) loadOlder();
      if (!reachedEnd && fromBottom < TOP_SLACK_PX) loadNewer();
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
    if (reachedEnd) scrollToBottom();
    else reloadLatest();
    el.input.focus();
  });

  function highlight(id) {
    const li = rendered.get(id);
    if (!li) return;
    li.scrollIntoView({ block: "center" });
    li.classList.add("is-highlighted");
    li.querySelector(".message-row").focus({ preventScroll: true });
    setTimeout(() => {
      const now = rendered.get(id);
      if (now) now.classList.remove("is-highlighted");
    }, HIGHLIGHT_MS);
  }

  // ------------------------------------------------------------ history

  function setHistoryStatus(text) {
    if (el.historyStatus.textContent !== text) el.historyStatus.textContent = text;
  }

  // {messages} or {error}; a timeout is an error too.
  async function askHistory(query) {
    const reply = await ask("history", { room: current, ...query }, HISTORY_TIMEOUT_MS);
    if (reply && reply.ok && Array.isArray(reply.messages)) return { messages: reply.messages.filter(isMessage) };
    return { error: (reply && reply.error) || { code: "timeout" } };
  }

  // The conversation is gone or closed to us (left elsewhere, DM of a deleted user…).
  function unavailable(error) {
    return Boolean(error) && (error.code === "forbidden" || error.code === "not_found");
  }

  function finishFirstPage(list) {
    loaded = true;
    el.scroller.classList.add("is-loaded");
    reachedStart = list.length < PAGE;
    setHistoryStatus(reachedStart ? "Beginning of the conversation" : "");
  }

  async function loadLatest() {
    if (loadingLatest) return;
    const seq = viewSeq;
    loadingLatest = true;
    setHistoryStatus("Loading…");
    const answer = await askHistory({ limit: PAGE });
    if (seq !== viewSeq) return;
    loadingLatest = false;
    if (answer.error) {
      if (unavailable(answer.error)) {
        setHistoryStatus("This conversation is not available to you.");
        refreshRooms();
        return;
      }
      setHistoryStatus("Could not load the conversation. Retrying…");
      setTimeout(() => {
        if (seq === viewSeq && socket.connected && !loaded) loadLatest();
      }, 3000);
      return;
    }
    answer.messages.forEach(insertMessage);
    finishFirstPage(answer.messages);
    scrollToBottom();
    fillViewport();
    scheduleRead();
  }

  // Opens the conversation at one message: the page up to it, the page after.
  async function loadAround(id) {
    const seq = viewSeq;
    loadingLatest = true;
    setHistoryStatus("Loading…");
    const older = await askHistory({ before: id + 1, limit: PAGE });
    if (seq !== viewSeq) return;
    const newer = older.error ? older : await askHistory({ after: id, limit: PAGE });
    if (seq !== viewSeq) return;
    loadingLatest = false;
    if (older.error) {
      setHistoryStatus(unavailable(older.error) ? "This conversation is not available to you." : "Could not load the conversation.");
      return;
    }
    reachedEnd = !newer.error && newer.messages.length < PAGE;
    older.messages.forEach(insertMessage);
    if (!newer.error) newer.messages.forEach(insertMessage);
    finishFirstPage(older.messages);
    pinned = false;
    if (rendered.has(id)) highlight(id);
    else {
      setHistoryStatus("That message is no longer there.");
      scrollToBottom();
    }
    scheduleRead();
  }

  // A first page shorter than the window shows no scrollbar to pull on.
  function fillViewport() {
    if (!reachedStart && el.scroller.scrollHeight <= el.scroller.clientHeight + 1) loadOlder();
  }

  async function loadOlder() {
    if (!loaded || loadingOlder || reachedStart || !socket.connected || minId === Infinity) return;
    const seq = viewSeq;
    loadingOlder = true;
    setHistoryStatus("Loading…");
    const answer = await askHistory({ before: minId, limit: PAGE });
    if (seq !== viewSeq) return;
    loadingOlder = false;
    if (answer.error) {
      setHistoryStatus("");
      return;
    }
    // Keep what the reader is looking at in place while the list grows above it.
    const fromBottom = distanceFromBottom();
    answer.messages.forEach(insertMessage);
    reachedStart = answer.messages.length < PAGE;
    setHistoryStatus(reachedStart ? "Beginning of the conversation" : "");
    el.scroller.scrollTop = el.scroller.scrollHeight - el.scroller.clientHeight - fromBottom;
    fillViewport();
  }

  // After a jump back in time: the next page towards the present.
  async function loadNewer() {
    if (!loaded || loadingNewer || reachedEnd || !socket.connected) return;
    const seq = viewSeq;
    loadingNewer = true;
    const answer = await askHistory({ after: maxId, limit: PAGE });
    if (seq !== viewSeq) return;
    loadingNewer = false;
    if (answer.error) return;
    const top = el.scroller.scrollTop;
    answer.messages.forEach(insertMessage);
    el.scroller.scrollTop = top;
    if (answer.messages.length < PAGE) {
      reachedEnd = true;
      el.newMessages.hidden = true;
    }
    scheduleRead();
  }

  function reloadLatest() {
    resetList();
    loadLatest();
  }

  // After a reconnect: everything after the last id seen, page by page. The
  // cursor is our own: live messages and acks arriving meanwhile move maxId
  // past the gap still being fetched.
  async function catchUp() {
    if (catchingUp || !reachedEnd) return;
    const seq = viewSeq;
    catchingUp = true;
    let cursor = maxId;
    try {
      for (;;) {
        const answer = await askHistory({ after: cursor, limit: CATCH_UP_PAGE });
        if (seq !== viewSeq || answer.error) break;
        addNew(answer.messages);
        if (answer.messages.length < CATCH_UP_PAGE) break;
        cursor = Math.max(cursor, ...answer.messages.map((m) => m.id));
      }
    } finally {
      if (seq === viewSeq) catchingUp = false;
    }
  }

  // ------------------------------------------------------- live events

  socket.on("message", (m) => {
    if (!isMessage(m)) return;
    if (roomOf(m) !== current) {
      otherRoomMessage(m);
    } else if (reachedEnd) {
      addNew([m]);
    } else {
      // Reading older history: offer the way back to the present.
      touchRoom(current, m);
      if (!isMine(m)) el.newMessages.hidden = false;
    }
  });

  socket.on("message_updated", (m) => {
    if (isMessage(m)) replaceMessage(m);
  });

  socket.on("mention", (payload) => {
    const m = payload && payload.message;
    if (!isMessage(m) || isMine(m)) return;
    const room = rooms.get(roomOf(m));
    const seen = roomOf(m) === current && !pageHidden();
    if (room && !seen) {
      room.mentions = (room.mentions || 0) + 1;
      renderRooms();
    }
    if (!room) scheduleRoomsRefresh();
    if (document.hidden) notifyMention(m);
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
      const retry = button("Retry", "button button-sm");
      retry.addEventListener("click", () => deliver(entry));
      const discard = button("Discard", "button button-sm button-ghost");
      discard.addEventListener("click", () => {
        dropEntry(entry);
        el.input.focus();
      });
      line.append(retry, discard);
    }
    if (entry.li.isConnected) regroup(entry.li.nextElementSibling);
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
    if (roomOf(m) === current && reachedEnd) addNew([m], true);
    else touchRoom(roomOf(m), m);
  }

  // A message of ours arrived by broadcast or history before its ack (or
  // after the ack timed out): drop the matching pending copy.
  function settlePendingFor(m) {
    for (const entry of pending.values()) {
      if (entry.room === roomOf(m) && (entry.state === "sending" || entry.timedOut) && entry.text === m.text) {
        dropEntry(entry);
        return;
      }
    }
  }

  function errorText(error) {
    const code = error && error.code;
    if (code === "rate_limited") return "Not sent: you are sending messages too fast. Wait a moment, then retry.";
    if (code === "validation_failed") return "Not sent: a message has 1 to 2000 characters and no control characters.";
    if (code === "forbidden" || code === "not_found") return "Not sent: you are not a member of this conversation.";
    const text = errorMessage(error, "");
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
      ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck("message", { text: entry.text, room: entry.room });
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
    if (!reachedEnd) reloadLatest(); // sending from old history: back to the present
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
    const entry = { key, room: current, text, li, state: "sending", timedOut: false };
    pending.set(key, entry);
    el.input.value = "";
    lastTypingSent = 0;
    updateComposer();
    deliver(entry);
    scrollToBottom();
  }

  // ---------------------------------------------------- message actions

  function messageOf(node) {
    const li = node.closest("li.message[data-id]");
    if (!li) return null;
    const m = known.get(Number(li.dataset.id));
    return m ? { li, m } : null;
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
            ? "A message has 1 to 2000 characters and no control characters."
            : errorMessage(ack && ack.error, "That did not work. Try again.");
    lineError(rendered.get(payload.id) || li, text);
    return false;
  }

  el.list.addEventListener("click", (event) => {
    const target = event.target.closest("button[data-action]");
    if (!target || !el.list.contains(target)) return;
    const found = messageOf(target);
    if (!found) return;
    const { li, m } = found;
    switch (target.dataset.action) {
      case "react":
        togglePicker(li, target);
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
        startEdit(li, m);
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
      default:
        break;
    }
  });

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

  // The six-emoji picker, one open at a time.
  let picker = null; // {node, li, anchor}

  function togglePicker(li, anchor) {
    if (picker && picker.li === li) {
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
    li.querySelector(".message-row").append(node);
    li.classList.add("has-picker");
    anchor.setAttribute("aria-expanded", "true");
    picker = { node, li, anchor };
    node.firstElementChild.focus();
  }

  function closePicker(refocus) {
    if (!picker) return;
    const { node, li, anchor } = picker;
    picker = null;
    node.remove();
    li.classList.remove("has-picker");
    anchor.setAttribute("aria-expanded", "false");
    if (refocus && anchor.isConnected) anchor.focus();
  }

  // Inline editor: Enter saves, Shift+Enter adds a line, Escape cancels.
  function startEdit(li, m) {
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
    const hint = make("p", "editor-hint", "Enter to save · Escape to cancel");
    const save = make("button", "button button-sm button-primary", "Save");
    save.type = "submit";
    const cancel = button("Cancel", "button button-sm button-ghost");
    const row = make("div", "editor-row");
    row.append(hint, cancel, save);
    form.append(area, row);
    content.hidden = true;
    content.after(form);
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);

    const close = () => {
      form.remove();
      content.hidden = false;
      li.classList.remove("is-editing");
      const latest = known.get(m.id);
      if (latest && latest !== m) replaceMessage(latest);
      const now = rendered.get(m.id);
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
        known.set(m.id, ack.message);
        return close();
      }
      const code = ack && ack.error && ack.error.code;
      lineError(
        li,
        code === "validation_failed"
          ? "A message has 1 to 2000 characters and no control characters."
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
      } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submit();
      }
    });
  }

  // Keyboard: arrows move between lines; a line's buttons are tabbable
  // only while focus is inside it.
  function lineRows() {
    return [...el.list.querySelectorAll(":scope > li[data-id] > .message-row")];
  }

  el.scroller.addEventListener("keydown", (event) => {
    if (event.target.closest("textarea, .reaction-picker")) return;
    const keys = ["ArrowUp", "ArrowDown", "Home", "End"];
    if (!keys.includes(event.key)) return;
    const rows = lineRows();
    if (!rows.length) return;
    const here = event.target.closest(".message-row");
    let index = here ? rows.indexOf(here) : -1;
    if (event.key === "ArrowUp") index = index < 0 ? rows.length - 1 : Math.max(0, index - 1);
    else if (event.key === "ArrowDown") index = index < 0 ? rows.length - 1 : Math.min(rows.length - 1, index + 1);
    else if (event.key === "Home") index = 0;
    else index = rows.length - 1;
    if (event.key === "ArrowUp" && index === 0) loadOlder();
    event.preventDefault();
    rows[index].focus();
    rows[index].scrollIntoView({ block: "nearest" });
  });

  el.list.addEventListener("focusin", (event) => {
    const row = event.target.closest(".message-row");
    if (!row) return;
    for (const b of row.querySelectorAll(".message-actions button, .reaction")) b.tabIndex = 0;
  });

  el.list.addEventListener("focusout", (event) => {
    const row = event.target.closest(".message-row");
    if (!row || (event.relatedTarget && row.contains(event.relatedTarget))) return;
    for (const b of row.querySelectorAll(".message-actions button, .reaction")) b.tabIndex = -1;
  });

  el.list.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    if (picker && picker.node.contains(event.target)) {
      event.stopPropagation();
      closePicker(true);
      return;
    }
    const bar = event.target.closest(".message-actions.is-confirming");
    if (bar) {
      event.stopPropagation();
      endConfirm(bar.closest("li"), true);
    }
  });

  document.addEventListener("click", (event) => {
    if (picker && !picker.node.contains(event.target) && event.target !== picker.anchor) closePicker();
    for (const bar of el.list.querySelectorAll(".message-actions.is-confirming")) {
      if (!bar.contains(event.target)) endConfirm(bar.closest("li"), false);
    }
  });

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
      socket.volatile.emit("typing", { room: current });
    }
  });

  const wide = () => window.matchMedia("(hover: hover) and (pointer: fine)").matches;

  // ------------------------------------------------------ conversations

  function roomLabel(room) {
    if (!room) return "";
    if (room.kind === "global" || room.id === GLOBAL) return "Global room";
    return typeof room.name === "string" && room.name ? room.name : room.id;
  }

  function normaliseRoom(room, previous) {
    return {
      ...previous,
      ...room,
      unread: Number.isInteger(room.unread) ? room.unread : previous ? previous.unread || 0 : 0,
      mentions: Number.isInteger(room.mentions) ? room.mentions : previous ? previous.mentions || 0 : 0,
      last_read_id: Number.isInteger(room.last_read_id) ? room.last_read_id : previous ? previous.last_read_id || 0 : 0,
    };
  }

  rooms.set(GLOBAL, { id: GLOBAL, kind: "global", name: "Global room", topic: "", member_count: null, unread: 0, mentions: 0, last_read_id: 0 });

  const validRoom = (r) => Boolean(r) && typeof r.id === "string" && r.id !== "";
  let localChanges = 0; // rooms joined, created or left here: older lists from the server are stale

  function addRoom(room, fresh) {
    if (!validRoom(room)) return null;
    localChanges += 1;
    const merged = normaliseRoom(fresh ? { ...room, unread: 0, mentions: 0 } : room, rooms.get(room.id));
    rooms.set(room.id, merged);
    return merged;
  }

  // A message for a conversation that is not open: counts and order.
  function otherRoomMessage(m) {
    const id = roomOf(m);
    const room = rooms.get(id);
    noteSeen(id, m.id);
    if (!room) {
      scheduleRoomsRefresh();
      return;
    }
    room.last_activity_at = m.created_at || room.last_activity_at;
    if (!isMine(m) && m.id > (room.last_read_id || 0)) room.unread = Math.min(UNREAD_CAP, (room.unread || 0) + 1);
    renderRooms();
  }

  function touchRoom(id, m) {
    const room = rooms.get(id);
    noteSeen(id, m.id);
    if (room && m.created_at && room.last_activity_at !== m.created_at) {
      room.last_activity_at = m.created_at;
      renderRooms();
    }
  }

  function activity(room) {
    const t = room.last_activity_at ? Date.parse(room.last_activity_at) : NaN;
    return Number.isNaN(t) ? 0 : t;
  }

  function countText(n) {
    return n >= UNREAD_CAP ? "99+" : String(n);
  }

  function conversationItem(room) {
    const li = make("li", "conv-item");
    li.dataset.room = room.id;
    const b = button("", "conv", "open-room");
    b.dataset.room = room.id;
    if (room.id === current) b.setAttribute("aria-current", "true");
    if (room.kind === "dm") {
      b.append(avatarFor(room.peer || null, 24));
    } else {
      const hash = make("span", "conv-hash", "#");
      hash.setAttribute("aria-hidden", "true");
      b.append(hash);
    }
    b.append(make("span", "conv-name", roomLabel(room)));
    const parts = [roomLabel(room)];
    if (room.mentions > 0) {
      const badge = make("span", "conv-mention", `@${room.mentions > 1 ? room.mentions : ""}`);
      badge.setAttribute("aria-hidden", "true");
      b.append(badge);
      parts.push(room.mentions === 1 ? "1 mention" : `${room.mentions} mentions`);
    }
    if (room.unread > 0) {
      const badge = make("span", "conv-unread", countText(room.unread));
      badge.setAttribute("aria-hidden", "true");
      b.append(badge);
      parts.push(`${room.unread >= UNREAD_CAP ? "100 or more" : room.unread} unread`);
      b.classList.add("has-unread");
    }
    b.setAttribute("aria-label", parts.join(", "));
    li.append(b);
    return li;
  }

  function renderRooms() {
    const all = [...rooms.values()];
    const byActivity = (a, b) => activity(b) - activity(a) || roomLabel(a).localeCompare(roomLabel(b));
    const publicRooms = all.filter((r) => r.kind !== "dm" && r.id !== GLOBAL).sort(byActivity);
    const dms = all.filter((r) => r.kind === "dm").sort(byActivity);
    const globalRoom = rooms.get(GLOBAL);
    keepingFocus(el.nav, "data-room", () => {
      el.roomList.replaceChildren(...[globalRoom, ...publicRooms].filter(Boolean).map(conversationItem));
      el.dmList.replaceChildren(...dms.map(conversationItem));
    });
    el.dmEmpty.hidden = dms.length > 0;

    const elsewhere = all.filter((r) => r.id !== current).reduce((sum, r) => sum + (r.unread || 0), 0);
    el.navToggleCount.hidden = elsewhere === 0;
    el.navToggleCount.textContent = countText(elsewhere);
    renderHeader();
  }

  function onConversationClick(event) {
    const b = event.target.closest("button[data-room]");
    if (b) openRoom(b.dataset.room);
  }
  el.roomList.addEventListener("click", onConversationClick);
  el.dmList.addEventListener("click", onConversationClick);

  function renderHeader() {
    const room = rooms.get(current) || { id: current, name: current, kind: "public" };
    const label = roomLabel(room);
    if (el.chatName.textContent !== label) el.chatName.textContent = label;
    el.chatHash.textContent = room.kind === "dm" ? "@" : "#";
    const topic = room.kind === "dm" ? "Direct message" : room.kind === "global" ? "Everyone on this server" : room.topic || "";
    if (el.chatTopic.textContent !== topic) el.chatTopic.textContent = topic;
    const members = Number.isInteger(room.member_count) && room.kind !== "dm"
      ? `${room.member_count} ${room.member_count === 1 ? "member" : "members"}`
      : "";
    if (el.chatMembers.textContent !== members) el.chatMembers.textContent = members;
    el.leave.hidden = room.kind !== "public";
    const short = label.length <= 16;
    el.input.placeholder =
      room.id === GLOBAL || !short ? "Write a message…" : `Write to ${room.kind === "dm" ? "@" : "#"}${label}…`;
    document.title = unread ? `(${unread}) ${baseTitle}` : baseTitle;
  }

  function setNotice(text) {
    if (el.notice.textContent !== text) el.notice.textContent = text;
  }

  // Opens a conversation in the chat view; `around` opens it at a message.
  function openRoom(id, options = {}) {
    const around = options.around;
    closeDrawers();
    showView("chat");
    if (id === current && !around && loaded) {
      if (wide()) el.input.focus({ preventScroll: true });
      return;
    }
    if (id !== current) setNotice("");
    current = id;
    lastTypingSent = 0;
    typers.clear();
    renderTyping();
    resetList();
    renderRooms();
    if (rooms.has(id)) refreshRoomInfo(id);
    else scheduleRoomsRefresh();
    if (around) loadAround(around);
    else if (socket.connected) loadLatest();
    if (wide() && !around) el.input.focus({ preventScroll: true });
  }

  // Fresh name, topic and member count for the header.
  async function refreshRoomInfo(id) {
    const res = await api("GET", `/api/v1/rooms/${encodeURIComponent(id)}`);
    const room = rooms.get(id);
    if (!res.ok || !res.data || !validRoom(res.data.room) || !room) return;
    const { unread: _u, mentions: _m, last_read_id: _l, ...fields } = res.data.room;
    Object.assign(room, fields);
    renderRooms();
  }

  let roomsRefreshTimer = 0;
  function scheduleRoomsRefresh() {
    clearTimeout(roomsRefreshTimer);
    roomsRefreshTimer = setTimeout(refreshRooms, 300);
  }

  // The server's view of my conversations: order, unread and mention counts.
  async function refreshRooms() {
    const started = localChanges;
    const res = await api("GET", "/api/v1/me/rooms");
    if (!res.ok || !res.data || !Array.isArray(res.data.rooms)) return;
    if (started !== localChanges) {
      scheduleRoomsRefresh();
      return;
    }
    const next = new Map();
    for (const room of res.data.rooms) {
      if (validRoom(room)) next.set(room.id, normaliseRoom(room, null));
    }
    if (!next.has(GLOBAL)) next.set(GLOBAL, rooms.get(GLOBAL));
    rooms.clear();
    for (const [id, room] of next) rooms.set(id, room);
    if (!rooms.has(current)) {
      setNotice("You are no longer in that conversation.");
      openRoom(GLOBAL);
      return;
    }
    renderRooms();
    scheduleRead();
  }

  socket.on("room_joined", (payload) => {
    const room = payload && payload.room;
    if (!validRoom(room)) return;
    addRoom(room, !rooms.has(room.id));
    renderRooms();
  });

  socket.on("room_left", (payload) => {
    const id = payload && (typeof payload.room === "string" ? payload.room : payload.room && payload.room.id);
    if (!id || id === GLOBAL || !rooms.has(id)) return;
    const label = roomLabel(rooms.get(id));
    rooms.delete(id);
    localChanges += 1;
    if (id === current) {
      setNotice(`You left #${label}.`);
      openRoom(GLOBAL);
    } else {
      renderRooms();
    }
  });

  el.leave.addEventListener("click", async () => {
    const room = rooms.get(current);
    if (!room || room.kind !== "public") return;
    el.leave.disabled = true;
    const res = await api("DELETE", `/api/v1/rooms/${encodeURIComponent(room.id)}/membership`);
    el.leave.disabled = false;
    if (!res.ok && res.status !== 404) {
      setNotice(errorMessage(res.error, "Could not leave the room."));
      return;
    }
    rooms.delete(room.id);
    localChanges += 1;
    setNotice(`You left #${roomLabel(room)}.`);
    openRoom(GLOBAL);
  });

  // ------------------------------------------------------- read markers

  function pageHidden() {
    return document.hidden || view !== "chat";
  }

  let readTimer = 0;
  function scheduleRead() {
    clearTimeout(readTimer);
    readTimer = setTimeout(markRead, 300);
  }

  // The open conversation, shown to the reader, is read up to its newest line.
  async function markRead() {
    const room = rooms.get(current);
    if (!room || pageHidden() || !loaded) return;
    if (room.unread || room.mentions) {
      room.unread = 0;
      room.mentions = 0;
      renderRooms();
    }
    if (!maxId || maxId <= (room.last_read_id || 0) || !socket.connected) return;
    const id = maxId;
    room.last_read_id = id;
    const ack = await ask("read", { room: room.id, id });
    if (ack && ack.ok && Number.isInteger(ack.last_read_id)) {
      room.last_read_id = Math.max(room.last_read_id || 0, ack.last_read_id);
    }
  }

  // A marker moved (maybe on another device).
  socket.on("read", (payload) => {
    const room = payload && rooms.get(payload.room);
    if (!room || !Number.isInteger(payload.last_read_id)) return;
    room.last_read_id = Math.max(room.last_read_id || 0, payload.last_read_id);
    if (room.last_read_id >= (lastSeen.get(room.id) || 0)) {
      room.unread = 0;
      room.mentions = 0;
      renderRooms();
    } else {
      scheduleRoomsRefresh();
    }
  });

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && unread) {
      unread = 0;
      document.title = baseTitle;
    }
    if (!document.hidden) scheduleRead();
  });

  // ------------------------------------------------------------- views

  function showView(name) {
    view = name;
    el.chat.hidden = name !== "chat";
    el.directory.hidden = name !== "directory";
    if (name !== "search") closeSearchPanel();
    el.openDirectory.setAttribute("aria-pressed", String(name === "directory"));
    el.openSearch.setAttribute("aria-pressed", String(name === "search"));
    if (name === "chat") scheduleRead();
  }

  function backToChat() {
    showView("chat");
    if (wide()) el.input.focus({ preventScroll: true });
  }

  // ---------------------------------------------------------- directory

  let directorySeq = 0;
  let directoryTimer = 0;

  function openDirectory() {
    closeDrawers();
    showView("directory");
    loadDirectory();
    el.roomSearch.focus();
  }

  function directoryItem(room) {
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

  el.createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearCreateErrors();
    const name = el.roomName.value.trim();
    const topic = el.roomTopic.value.trim();
    if (!name) {
      setFieldError(el.roomName, el.roomNameError, "Enter a name for the room.");
      el.roomName.focus();
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
  el.openDirectory.addEventListener("click", () => (view === "directory" ? backToChat() : openDirectory()));
  el.directoryClose.addEventListener("click", backToChat);

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

  function closeSearchPanel() {
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

  el.openSearch.addEventListener("click", () => (view === "search" ? backToChat() : openSearchPanel()));

  // -------------------------------------------------- presence and people

  function renderOnline() {
    const people = [...online.values()].sort((a, b) => {
      const x = a.username.toLowerCase();
      const y = b.username.toLowerCase();
      return x < y ? -1 : x > y ? 1 : a.id - b.id;
    });
    const items = people.map((user) => {
      const li = make("li", "online-item");
      const b = button("", "online-person", "person");
      b.dataset.user = String(user.id);
      b.setAttribute("aria-haspopup", "dialog");
      const avatar = make("span", "online-avatar");
      const img = make("img", "avatar avatar-sm");
      img.src = user.avatar_url;
      img.alt = "";
      img.width = 32;
      img.height = 32;
      img.decoding = "async";
      avatar.append(img);
      b.append(avatar, make("span", "online-name", user.username));
      if (user.id === me.id) b.append(make("span", "online-you", "(you)"));
      li.append(b);
      return li;
    });
    keepingFocus(el.online, "data-user", () => el.online.replaceChildren(...items));

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

  // The profile card: a person of the Online list, with "Message" (opens
  // the direct conversation) and, for admins, "Suspend".
  let cardUser = null;

  function openCard(user, anchor) {
    cardUser = user;
    el.cardAvatar.src = user.avatar_url;
    el.cardName.textContent = user.username;
    el.cardStatus.textContent = user.id === me.id ? "This is you." : "";
    el.cardDm.hidden = user.id === me.id;
    el.cardDm.disabled = false;
    el.cardSuspend.hidden = !me.isAdmin || user.id === me.id;
    el.cardSuspend.disabled = false;
    el.cardSuspend.textContent = "Suspend";
    el.cardSuspend.dataset.state = "active";
    el.card.hidden = false;
    const item = anchor.closest("li");
    el.card.style.top = `${item.offsetTop + item.offsetHeight + 4}px`;
    (el.cardDm.hidden ? el.cardClose : el.cardDm).focus();
  }

  function closeCard(refocus) {
    if (el.card.hidden) return;
    el.card.hidden = true;
    const anchor = cardUser && el.online.querySelector(`[data-user="${cardUser.id}"]`);
    if (refocus && anchor) anchor.focus();
    cardUser = null;
  }

  el.online.addEventListener("click", (event) => {
    const b = event.target.closest("button[data-user]");
    if (!b) return;
    const user = online.get(Number(b.dataset.user));
    if (!user) return;
    if (cardUser && cardUser.id === user.id) closeCard(false);
    else openCard(user, b);
  });

  el.cardClose.addEventListener("click", () => closeCard(true));

  el.card.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      closeCard(true);
    }
  });

  document.addEventListener("click", (event) => {
    if (!el.card.hidden && !el.card.contains(event.target) && !el.online.contains(event.target)) closeCard(false);
  });

  async function openDm(username) {
    const res = await api("POST", "/api/v1/dms", { username });
    if (!res.ok || !res.data || !validRoom(res.data.room)) {
      return errorMessage(res.error, "Could not open the conversation.");
    }
    addRoom(res.data.room, !rooms.has(res.data.room.id));
    openRoom(res.data.room.id);
    return "";
  }

  el.cardDm.addEventListener("click", async () => {
    if (!cardUser) return;
    el.cardDm.disabled = true;
    const problem = await openDm(cardUser.username);
    el.cardDm.disabled = false;
    if (problem) el.cardStatus.textContent = problem;
    else closeCard(false);
  });

  el.cardSuspend.addEventListener("click", async () => {
    if (!cardUser) return;
    const suspend = el.cardSuspend.dataset.state !== "suspended";
    el.cardSuspend.disabled = true;
    const res = await api(suspend ? "PUT" : "DELETE", `/api/v1/admin/users/${encodeURIComponent(cardUser.username)}/suspension`);
    el.cardSuspend.disabled = false;
    if (!res.ok) {
      el.cardStatus.textContent = errorMessage(res.error, "That did not work.");
      return;
    }
    el.cardSuspend.dataset.state = suspend ? "suspended" : "active";
    el.cardSuspend.textContent = suspend ? "Reinstate" : "Suspend";
    el.cardStatus.textContent = suspend ? `${cardUser.username} is suspended.` : `${cardUser.username} is reinstated.`;
  });

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
    if (!validUser(user) || user.id === me.id || roomOf(payload) !== current) return;
    typers.delete(user.id); // re-inserted: the order is who typed first
    typers.set(user.id, { username: user.username, until: Date.now() + TYPING_SHOWN_MS });
    renderTyping();
  });

  // ------------------------------------------------------ notifications

  const canNotify = typeof Notification === "function";

  function renderNotifyButton() {
    el.notifyButton.hidden = !canNotify || Notification.permission !== "default";
  }

  el.notifyButton.addEventListener("click", async () => {
    let permission = "denied";
    try {
      permission = await Notification.requestPermission();
    } catch {
      // an old browser without the promise form
    }
    renderNotifyButton();
    el.notifyStatus.textContent =
      permission === "granted" ? "Notifications are on for mentions." : "Notifications stay off (the browser said no).";
  });

  function notifyMention(m) {
    if (!canNotify || Notification.permission !== "granted") return;
    const room = rooms.get(roomOf(m));
    const where = room ? (room.kind === "dm" ? "a direct message" : `#${roomLabel(room)}`) : "a conversation";
    try {
      const note = new Notification(`${m.author ? m.author.username : "Someone"} mentioned you in ${where}`, {
        body: m.text.slice(0, 160),
        tag: `mention-${m.id}`,
      });
      note.addEventListener("click", () => {
        window.focus();
        openRoom(roomOf(m), { around: m.id });
        note.close();
      });
    } catch {
      // Some platforms only allow notifications from a service worker.
    }
  }

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
    if (everConnected) refreshRooms();
    everConnected = true;
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

  // ------------------------------------------------------------ drawers

  // On narrow screens both side panels are drawers over the chat.
  const drawers = [
    { panel: el.sidebar, toggle: el.sidebarToggle, close: el.sidebarClose },
    { panel: el.nav, toggle: el.navToggle, close: el.navClose },
  ];

  const isOpen = (d) => d.panel.classList.contains("is-open");

  function setDrawer(d, open, returnFocus) {
    d.panel.classList.toggle("is-open", open);
    d.toggle.setAttribute("aria-expanded", String(open));
    if (open) d.panel.focus({ preventScroll: true });
    else if (returnFocus) d.toggle.focus();
  }

  function closeDrawers() {
    for (const d of drawers) if (isOpen(d)) setDrawer(d, false, false);
  }

  for (const d of drawers) {
    d.toggle.addEventListener("click", () => {
      for (const other of drawers) if (other !== d && isOpen(other)) setDrawer(other, false, false);
      setDrawer(d, !isOpen(d), false);
    });
    if (d.close) d.close.addEventListener("click", () => setDrawer(d, false, true));
  }

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    if (!el.card.hidden) {
      closeCard(true);
      return;
    }
    for (const d of drawers) if (isOpen(d)) setDrawer(d, false, true);
  });

  document.addEventListener("click", (event) => {
    for (const d of drawers) {
      if (isOpen(d) && !d.panel.contains(event.target) && !d.toggle.contains(event.target) && event.target.isConnected) {
        setDrawer(d, false, false);
      }
    }
  });

  // -------------------------------------------------------------- start

  updateComposer();
  renderRooms();
  renderNotifyButton();
  setNotice("");
  refreshRooms();
  if (wide()) {
    el.input.focus({ preventScroll: true });
  }
})();
