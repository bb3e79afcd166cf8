// chatroom — the Discover page's chat, one draft per conversation: what is
// typed in the Message box stays with its conversation (switching away and
// back, reloading), and never follows you into another one.
//
// One of the chat page's ES modules (see state.js). Drafts live in this
// browser's localStorage, under the signed-in account's id and tagged with
// the session that wrote them, until they are sent or emptied; a draft
// untouched for DRAFT_DAYS is dropped, and so is every draft of a session
// that ended (logging out, or another account signing in on this browser):
// what someone typed does not outlive their sign-in on a shared computer.

import { me } from "./state.js";

const ALL = "chatroom.draft.";
const PREFIX = `${ALL}${me.id}.`;
const DRAFT_DAYS = 30;

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage turned off: drafts last as long as the page
  }
}

// This page's drafts (room id → text); storage keeps them across reloads.
const kept = new Map();

/** The draft of `room`, or "". */
export function loadDraft(room) {
  if (kept.has(room)) return kept.get(room);
  const store = storage();
  if (!store) return "";
  try {
    const saved = JSON.parse(store.getItem(PREFIX + room) || "null");
    if (!saved || typeof saved.text !== "string") return "";
    if (saved.session !== me.session || Date.now() - Number(saved.at) > DRAFT_DAYS * 24 * 3600 * 1000) {
      store.removeItem(PREFIX + room);
      return "";
    }
    return saved.text;
  } catch {
    return "";
  }
}

/** Keeps `text` as the draft of `room` (a blank text removes it). */
export function saveDraft(room, text) {
  const blank = text.trim() === "";
  kept.set(room, blank ? "" : text);
  const store = storage();
  if (!store) return;
  try {
    if (blank) store.removeItem(PREFIX + room);
    else store.setItem(PREFIX + room, JSON.stringify({ text, at: Date.now(), session: me.session }));
  } catch {
    // storage full: this draft lasts as long as the page
  }
}

// One browser holds one sign-in at a time: drafts of any other session (of
// this account or another) were left by a sign-in that has ended.
function dropEndedSessions() {
  const store = storage();
  if (!store) return;
  try {
    const ended = [];
    for (let i = 0; i < store.length; i += 1) {
      const key = store.key(i);
      if (!key || !key.startsWith(ALL)) continue;
      let saved = null;
      try {
        saved = JSON.parse(store.getItem(key) || "null");
      } catch {
        saved = null;
      }
      if (!saved || saved.session !== me.session) ended.push(key);
    }
    for (const key of ended) store.removeItem(key);
  } catch {
    // storage unreadable: nothing to drop
  }
}

dropEndedSessions();
