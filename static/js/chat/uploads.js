// chatroom — the Discover page's chat, files on their way into a message:
// the composer's "Attach files" button, dropping and pasting files, the tray
// of uploads with their progress, and cancelling (docs/attachments.md, "On
// the page").
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { MAX_ATTACHMENTS, MAX_UPLOAD } from "./config.js";
import { el, page } from "./state.js";
import { button, make } from "./util.js";
import { fileIcon, formatBytes, isAttachment } from "./attachment-view.js";

const AT_ONCE = 3; // uploads running at the same time, in all trays; the others wait

let nextKey = 1;
let running = 0;
const allTrays = []; // every tray of the page, for the shared queue

/**
 * A tray of files on their way into a message, for one composer: the
 * conversation's Message box, or a thread's Reply box. `where()` says
 * where files added now go: `{key, room}` (the tray's key — a conversation
 * id, or a thread of one — and the conversation they are uploaded to), or
 * null when nothing may be added. `onChange` runs whenever what the tray
 * holds changes.
 */
export function createTray({ list, note, input, where, onChange = () => {} }) {
  const trays = new Map(); // key → items, in the order added:
  // {key, room, file, name, size, state: waiting | uploading | done | failed,
  //  sent, total, xhr, attachment, error, li}

  function setNote(text) {
    if (note.textContent !== text) note.textContent = text;
  }

  function itemLine(item) {
    const li = make("li", "upload");
    li.dataset.upload = String(item.key);
    const preview = make("span", "upload-preview");
    preview.append(fileIcon());
    const text = make("span", "upload-text");
    const name = make("span", "upload-name", item.name);
    const meta = make("span", "upload-meta");
    const bar = make("progress", "upload-progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", `Uploading ${item.name}`);
    text.append(name, meta, bar);
    const remove = button("", "button button-ghost upload-remove");
    remove.setAttribute("aria-label", `Remove ${item.name}`);
    remove.title = "Remove";
    remove.append(make("span", "upload-remove-x", "×"));
    remove.firstChild.setAttribute("aria-hidden", "true");
    remove.addEventListener("click", () => removeItem(item));
    li.append(preview, text, remove);
    return li;
  }

  function renderItem(item) {
    const li = item.li;
    li.dataset.state = item.state;
    const meta = li.querySelector(".upload-meta");
    const bar = li.querySelector(".upload-progress");
    let text;
    if (item.state === "waiting") text = "Waiting…";
    else if (item.state === "uploading") {
      const percent = item.total > 0 ? Math.floor((item.sent / item.total) * 100) : 0;
      text = `Uploading… ${percent} %`;
      bar.value = percent;
    } else if (item.state === "done") text = formatBytes(item.attachment.size);
    else text = item.error;
    bar.hidden = item.state !== "uploading";
    if (meta.textContent !== text) meta.textContent = text;
    if (item.state === "done" && typeof item.attachment.thumbnail_url === "string") {
      const preview = li.querySelector(".upload-preview");
      if (!preview.querySelector("img")) {
        const img = make("img", "upload-thumb");
        img.alt = "";
        img.width = 40;
        img.height = 40;
        img.src = item.attachment.thumbnail_url;
        preview.replaceChildren(img);
      }
    }
  }

  /** Shows the tray of where files go now (after a switch, or a change). */
  function render() {
    const here = where();
    const items = (here && trays.get(here.key)) || [];
    const lines = items.map((item) => item.li);
    const shown = [...list.children];
    if (lines.length !== shown.length || lines.some((li, i) => shown[i] !== li)) {
      list.replaceChildren(...lines);
    }
    list.hidden = lines.length === 0;
    if (lines.length === 0) setNote("");
    onChange();
  }

  function removeItem(item) {
    const items = trays.get(item.tray) || [];
    trays.set(
      item.tray,
      items.filter((other) => other !== item),
    );
    if (item.state === "uploading" && item.xhr) item.xhr.abort(); // the server keeps nothing of it
    if (item.state === "waiting" || item.state === "uploading") item.state = "failed";
    item.li.remove();
    setNote(`${item.name} removed.`);
    render();
    input.focus({ preventScroll: true });
  }

  function start(item) {
    running += 1;
    item.state = "uploading";
    item.sent = 0;
    item.total = item.size;
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open("POST", `/api/v1/rooms/${encodeURIComponent(item.room)}/attachments`);
    xhr.responseType = "json";
    xhr.setRequestHeader("accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (item.state !== "uploading") return;
      item.sent = event.loaded;
      if (event.lengthComputable) item.total = event.total;
      renderItem(item);
    });
    xhr.addEventListener("load", () => {
      finish(item);
      if (item.state !== "uploading") return; // removed meanwhile
      if (xhr.status === 401) {
        window.location.assign("/login");
        return;
      }
      const attachment = xhr.status === 201 && xhr.response ? xhr.response.attachment : null;
      if (isAttachment(attachment)) {
        item.state = "done";
        item.attachment = attachment;
      } else {
        item.state = "failed";
        item.error = failureText(xhr);
        setNote(`${item.name}: ${item.error}`);
      }
      renderItem(item);
      onChange();
    });
    const broken = () => {
      finish(item);
      if (item.state !== "uploading") return;
      item.state = "failed";
      item.error = "The upload was interrupted. Remove the file and try again.";
      setNote(`${item.name}: ${item.error}`);
      renderItem(item);
      onChange();
    };
    xhr.addEventListener("error", broken);
    xhr.addEventListener("timeout", broken);
    xhr.addEventListener("abort", () => finish(item));
    const form = new FormData();
    form.append("file", item.file, item.name);
    xhr.send(form);
    renderItem(item);
  }

  /** Adds `files` to the tray of where files go now and starts uploading them. */
  function add(files, { pasted = false } = {}) {
    const here = where();
    if (!here) return;
    let items = trays.get(here.key);
    if (!items) {
      items = [];
      trays.set(here.key, items);
    }
    let roomLeft = MAX_ATTACHMENTS - items.filter((item) => item.state !== "failed").length;
    let leftOut = 0;
    for (const file of files) {
      if (!(file instanceof File)) continue;
      if (roomLeft <= 0) {
        leftOut += 1;
        continue;
      }
      roomLeft -= 1;
      const name = pasted ? pastedName(file) : file.name || "file";
      const item = {
        key: nextKey++,
        tray: here.key,
        room: here.room,
        file,
        name,
        size: file.size,
        state: "waiting",
        sent: 0,
        total: file.size,
      };
      item.li = itemLine(item);
      if (file.size > MAX_UPLOAD) {
        item.state = "failed";
        item.error = `Larger than ${formatBytes(MAX_UPLOAD)}, the most one file may be.`;
      } else if (file.size === 0) {
        item.state = "failed";
        item.error = "This file is empty.";
      }
      items.push(item);
      renderItem(item);
    }
    if (leftOut > 0) {
      setNote(`A message carries at most ${MAX_ATTACHMENTS} files: ${leftOut} ${leftOut === 1 ? "was" : "were"} left out.`);
    }
    render();
    pump();
  }

  const tray = {
    render,
    add,
    setNote,
    /** The uploaded attachments of `key`'s tray, ready to be sent. */
    ready: (key) => (trays.get(key) || []).filter((item) => item.state === "done").map((item) => item.attachment),
    /** Files of `key`'s tray still uploading or waiting to. */
    inFlight: (key) =>
      (trays.get(key) || []).filter((item) => item.state === "waiting" || item.state === "uploading").length,
    /** Takes the uploaded files off `key`'s tray (they are being sent). */
    take(key) {
      const items = trays.get(key) || [];
      const taken = items.filter((item) => item.state === "done");
      trays.set(
        key,
        items.filter((item) => item.state !== "done"),
      );
      for (const item of taken) item.li.remove();
      render();
      return taken.map((item) => item.attachment);
    },
    waiting: () => [...trays.values()].flat().filter((item) => item.state === "waiting"),
    start,
  };
  allTrays.push(tray);

  // Pasted files (a screenshot, files copied in a file manager) are
  // uploaded; pasted text stays text. A file manager also offers the file's
  // name as text: that is not text to keep.
  input.addEventListener("paste", (event) => {
    const data = event.clipboardData;
    const files = data ? [...data.files] : [];
    if (files.length === 0 || !where()) return;
    const text = data.getData("text/plain");
    if (text.trim() && !files.some((file) => file.name === text.trim())) return;
    event.preventDefault();
    add(files, { pasted: true });
  });

  return tray;
}

// ------------------------------------------------------------ uploading

// The server words its refusals for people ("The file is larger than 25
// MiB.", "Too many attempts. Try again in 2 minutes."); the page says them
// as they are, and words only what has no answer body (a reset, a proxy).
function failureText(xhr) {
  const error = xhr.response && xhr.response.error ? xhr.response.error : null;
  const reason = error && error.fields ? error.fields.file : "";
  if (reason) return `${reason.charAt(0).toUpperCase()}${reason.slice(1)}.`;
  if (error && error.message) return error.message;
  switch (xhr.status) {
    case 413:
      return `Larger than ${formatBytes(MAX_UPLOAD)}, the most one file may be.`;
    case 503:
      return "The server is busy. Remove the file and try again.";
    default:
      return "The upload did not finish. Remove the file and try again.";
  }
}

function finish(item) {
  running -= 1;
  item.xhr = null;
  pump();
}

function pump() {
  for (const tray of allTrays) {
    for (const item of tray.waiting()) {
      if (running >= AT_ONCE) return;
      tray.start(item);
    }
  }
}

// A screenshot pasted from the clipboard arrives as "image.png".
function pastedName(file) {
  const generic = /^image\.(png|jpe?g|gif|webp)$/i.exec(file.name || "");
  if (!generic && file.name) return file.name;
  const now = new Date();
  const two = (n) => String(n).padStart(2, "0");
  const date = `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())}`;
  const time = `${two(now.getHours())}.${two(now.getMinutes())}.${two(now.getSeconds())}`;
  const extension = generic ? generic[1].toLowerCase() : (file.type.split("/")[1] || "png").replace(/[^a-z0-9]/g, "");
  return `Pasted image ${date} ${time}.${extension}`;
}

// ------------------------------------------------- the conversation's tray

let onConversationChange = () => {};

const conversationTray = createTray({
  list: el.uploadTray,
  note: el.uploadNote,
  input: el.input,
  where: () => ({ key: page.current, room: page.current }),
  onChange: () => onConversationChange(),
});

/** `listener` runs whenever what the tray holds changes (sending.js). */
export function onTrayChange(listener) {
  onConversationChange = listener;
}

/** The uploaded attachments of `room`'s tray, ready to be sent. */
export const readyUploads = (room) => conversationTray.ready(room);
/** Files of `room`'s tray still uploading or waiting to. */
export const uploadsInFlight = (room) => conversationTray.inFlight(room);
/** Takes the uploaded files off `room`'s tray (they are being sent). */
export const takeReady = (room) => conversationTray.take(room);
/** Shows the open conversation's tray (after a switch, or a change). */
export const renderTray = () => conversationTray.render();
/** Adds `files` to the open conversation's tray and starts uploading them. */
export const addFiles = (files, options) => conversationTray.add(files, options);

// ------------------------------------------------------------- sources

el.attach.addEventListener("click", () => el.fileInput.click());

el.fileInput.addEventListener("change", () => {
  addFiles([...el.fileInput.files]);
  el.fileInput.value = "";
  el.input.focus({ preventScroll: true });
});

const carriesFiles = (event) => Boolean(event.dataTransfer) && [...event.dataTransfer.types].includes("Files");

function showDropZone(shown) {
  if (shown) {
    el.dropWhere.textContent = `${el.chatHash.textContent}${el.chatName.textContent}`;
  }
  el.dropZone.hidden = !shown;
  el.chat.classList.toggle("is-dropping", shown);
}

el.chat.addEventListener("dragenter", (event) => {
  if (!carriesFiles(event) || page.view !== "chat") return;
  event.preventDefault();
  showDropZone(true);
});

el.chat.addEventListener("dragover", (event) => {
  if (!carriesFiles(event) || page.view !== "chat") return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "copy";
  showDropZone(true);
});

el.chat.addEventListener("dragleave", (event) => {
  if (event.relatedTarget && el.chat.contains(event.relatedTarget)) return;
  showDropZone(false);
});

el.chat.addEventListener("drop", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  showDropZone(false);
  if (page.view !== "chat") return;
  addFiles([...event.dataTransfer.files]);
  el.input.focus({ preventScroll: true });
});

// A file dropped anywhere else must not replace the page with itself.
for (const type of ["dragover", "drop"]) {
  window.addEventListener(type, (event) => {
    if (carriesFiles(event) && !el.chat.contains(event.target)) event.preventDefault();
  });
}
