// chatroom — the Discover page's chat, the server's rules.
//
// The page carries them as <meta name="chatroom-config" content="{…JSON…}">,
// rendered from the code that enforces them (crate::web::client_config in
// src/web/mod.rs): the scripts never hold copies of them.

function readConfig() {
  const meta = document.querySelector('meta[name="chatroom-config"]');
  if (!meta) throw new Error("chatroom: the page has no chatroom-config meta");
  return JSON.parse(meta.getAttribute("content"));
}

const config = readConfig();

function count(value, name) {
  if (!Number.isInteger(value) || value < 0) throw new Error(`chatroom: bad ${name} in chatroom-config`);
  return value;
}

/** A message has 1 to MAX_CHARS characters (after trimming). */
export const MAX_CHARS = count(config.max_message_chars, "max_message_chars");

/** The quick reactions, which the picker shows first (any single emoji is one: emoji-picker.js). */
export const REACTIONS = Object.freeze(
  (Array.isArray(config.reactions) ? config.reactions : []).filter((e) => typeof e === "string" && e !== ""),
);

/** Room names: MIN to MAX characters matching PATTERN (a RegExp). */
export const ROOM_NAME = Object.freeze({
  min: count(config.room_name && config.room_name.min, "room_name.min"),
  max: count(config.room_name && config.room_name.max, "room_name.max"),
  pattern: new RegExp(config.room_name && config.room_name.pattern),
});

export const MAX_TOPIC_CHARS = count(config.max_topic_chars, "max_topic_chars");

/** The longest client_id the server echoes (docs/rooms.md, "Messages"). */
export const MAX_CLIENT_ID = count(config.max_client_id, "max_client_id");

/** The server lists at most this many people online on request; past it, arrivals only move the count. */
export const ONLINE_LIST_LIMIT = count(config.online_list_limit, "online_list_limit");

/** How many people the presence event sent on connect names at most. */
export const CONNECT_LIST_LIMIT = count(config.connect_list_limit, "connect_list_limit");

/** Unread counts are exact up to this; this value means "this many or more". */
export const UNREAD_CAP = count(config.unread_cap, "unread_cap");

/** The most bytes one attached file may have (CHATROOM_MAX_UPLOAD). */
export const MAX_UPLOAD = count(config.max_upload, "max_upload");

/** The most files one message may carry. */
export const MAX_ATTACHMENTS = count(config.max_attachments, "max_attachments");

/** The validation rule for a message, in words. */
export const MESSAGE_RULE = `A message has 1 to ${MAX_CHARS} characters and no control characters.`;
