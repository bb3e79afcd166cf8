// chatroom — the Discover page's chat, constants, the page's elements, who is
// signed in, the shared state and the Socket.IO connection.
//
// One of the chat page's ES modules (no bundler): the page loads main.js as
// <script type="module"> with an import map giving every module its
// cache-busting URL (src/web/import_map.rs). Security rule: text from the
// server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.
//
// Protocol: docs/realtime.md (SPEC §5) and docs/rooms.md. No framework, no
// build step. `io` is the global of the vendored Socket.IO client, a classic
// script loaded before the modules.

import { MAX_CHARS, REACTIONS } from "./config.js";

// ------------------------------------------------- constants and state

export const NEAR_LIMIT = Math.floor(MAX_CHARS * 0.9); // the counter shows from here
export const PAGE = 50;
export const CATCH_UP_PAGE = 100;
export const GROUP_WINDOW_MS = 5 * 60 * 1000;
export const TYPING_SEND_EVERY_MS = 2000;
export const TYPING_SHOWN_MS = 4000;
export const ACK_TIMEOUT_MS = 15000;
export const HISTORY_TIMEOUT_MS = 10000;
export const BOTTOM_SLACK_PX = 64;
export const TOP_SLACK_PX = 240;
export const HIGHLIGHT_MS = 2500;
export const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
export const MENTION_PATTERN = /(^|[^A-Za-z0-9_.@-])@([A-Za-z0-9_.-]{3,32})/g;
export const GLOBAL = "global";

// Spoken names of the reactions the server accepts (config.js); one it adds
// later is named by the emoji itself.
const EMOJI_NAMES = {
  "👍": "thumbs up",
  "❤️": "heart",
  "😂": "laughing",
  "🎉": "party",
  "😮": "surprised",
  "😢": "sad",
};
export const EMOJI = REACTIONS.map((emoji) => [emoji, EMOJI_NAMES[emoji] || emoji]);

const byId = (id) => document.getElementById(id);
const meta = document.querySelector('meta[name="chatroom-user"]');
export const el = {
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
  attach: byId("attach-button"),
  fileInput: byId("file-input"),
  uploadTray: byId("upload-tray"),
  uploadNote: byId("upload-note"),
  dropZone: byId("drop-zone"),
  dropWhere: byId("drop-where"),
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
  openThreads: byId("open-threads"),
  threadsUnread: byId("threads-unread"),
  threadsView: byId("threads-view"),
  peopleView: byId("people-view"),
  openPeople: byId("open-people"),
  threadsClose: byId("threads-close"),
  threadsStatus: byId("threads-status"),
  threadsList: byId("threads-list"),
  threadPanel: byId("thread-panel"),
  threadWhere: byId("thread-where"),
  threadFollow: byId("thread-follow"),
  threadClose: byId("thread-close"),
  threadNotice: byId("thread-notice"),
  threadScroller: byId("thread-messages"),
  threadStatus: byId("thread-status"),
  threadRoot: byId("thread-root"),
  threadCount: byId("thread-count"),
  threadList: byId("thread-list"),
  threadForm: byId("thread-composer"),
  threadInput: byId("thread-input"),
  threadAlso: byId("thread-also"),
  threadSend: byId("thread-send"),
  threadAttach: byId("thread-attach"),
  threadFileInput: byId("thread-file-input"),
  threadUploadTray: byId("thread-upload-tray"),
  threadUploadNote: byId("thread-upload-note"),
};
if (!meta || !el.list || !el.input) throw new Error("chatroom: not the chat page");
if (typeof io !== "function") throw new Error("chatroom: the Socket.IO client did not load");

export const me = {
  id: Number(meta.getAttribute("content")),
  username: meta.dataset.username || "",
  session: Number(meta.dataset.session) || 0, // the session's public id (drafts.js)
  isAdmin: meta.dataset.admin === "true", // admins may delete anyone's message
};

// The open conversation's list.
export const rendered = new Map(); // message id → <li>
export const known = new Map(); // message id → the latest message object

// A list of message lines the message actions work on: the open
// conversation, or the open thread (its root and its replies). `scroller`
// takes the arrow keys; `container` holds every line of the view.
export const roomView = { name: "room", container: el.list, scroller: el.scroller, rendered, known, onTop: null };
export const threadView = {
  name: "thread",
  container: el.threadScroller,
  scroller: el.threadScroller,
  rendered: new Map(), // message id → <li> (the root and the replies)
  known: new Map(), // message id → the latest message object
  onTop: null, // set by threads.js: loads older replies
};
export const views = [roomView, threadView];

// What the page shows and where it stands; the other modules read and change
// these as page.current, page.loaded, ….
export const page = {
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
  view: "chat", // chat | directory | search | threads
  lastTypingSent: 0,
  unread: 0, // shown in the tab title while the page is hidden
  picker: null, // the reaction picker, one open at a time: {node, li, anchor}
};

// Everything else.
export const rooms = new Map(); // room id → room (+ unread, mentions, last_read_id)
export const lastSeen = new Map(); // room id → newest message id this page saw
export const pending = new Map(); // client_id → {key, room, text, attachments, li, state, timedOut, thread?, alsoInRoom?}
export const online = new Map(); // user id → {id, username, avatar_url}
export const typers = new Map(); // user id → {username, until}
export const baseTitle = document.title;

// It connects once every module has registered its handlers (main.js).
export const socket = io({ transports: ["websocket", "polling"], autoConnect: false });
