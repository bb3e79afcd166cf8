// chatroom — the Discover page's chat, constants, the page's elements, who is
// signed in, the shared state and the Socket.IO connection.
//
// Part of the chat page's scripts, loaded in order (CHAT_SCRIPTS in
// src/accounts/pages.rs) as classic deferred scripts; they share state and
// functions through the one namespace object window.chatroom. Security rule:
// text from the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.
//
// Protocol: docs/realtime.md (SPEC §5) and docs/rooms.md. No framework, no
// build step.
/* global io */
(() => {
  "use strict";

  const app = (window.chatroom = window.chatroom || {});

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

  // What the page shows and where it stands; the other files read and change
  // these as page.current, page.loaded, ….
  const page = {
    current: GLOBAL, // the open conversation
    viewSeq: 0, // bumped on every switch: late answers for another view are dropped
    maxId: 0,
    minId: Infinity,
    loaded: false, // the first page of history is in
    loadingLatest: false,
    loadingOlder: false,
    loadingNewer: false,
    reachedStart: false,
    reachedEnd: true, // false after jumping back to an older message
    catchingUp: false,
    pinned: true, // the view follows new messages
    view: "chat", // chat | directory | search
    lastTypingSent: 0,
    unread: 0, // shown in the tab title while the page is hidden
    picker: null, // the six-emoji picker, one open at a time: {node, li, anchor}
  };

  // Everything else.
  const rooms = new Map(); // room id → room (+ unread, mentions, last_read_id)
  const lastSeen = new Map(); // room id → newest message id this page saw
  const pending = new Map(); // local key → {key, room, text, li, state, timedOut}
  const online = new Map(); // user id → {id, username, avatar_url}
  const typers = new Map(); // user id → {username, until}
  const baseTitle = document.title;

  // It connects once every file has registered its handlers (main.js).
  const socket = io({ transports: ["websocket", "polling"], autoConnect: false });

  Object.assign(app, { ACK_TIMEOUT_MS, BOTTOM_SLACK_PX, CATCH_UP_PAGE, EMOJI, GLOBAL,
    GROUP_WINDOW_MS, HIGHLIGHT_MS, HISTORY_TIMEOUT_MS, MAX_CHARS, MENTION_PATTERN, NEAR_LIMIT,
    ONLINE_LIST_LIMIT, PAGE, TOP_SLACK_PX, TYPING_SEND_EVERY_MS, TYPING_SHOWN_MS, UNREAD_CAP,
    URL_PATTERN, baseTitle, el, known, lastSeen, me, online, page, pending, rendered, rooms,
    socket, typers });
})();
