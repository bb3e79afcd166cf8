// chatroom — the Discover page's chat, a message's pictures and files: the
// thumbnails, the download cards and the picture viewer (docs/attachments.md,
// "On the page").
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML. URLs from the server are used only
// when they are this site's own attachment paths.

import { make } from "./util.js";

// A thumbnail is shown at most this large (CSS pixels), never enlarged.
const SHOWN_WIDTH = 360;
const SHOWN_HEIGHT = 240;
const OWN_URL = /^\/attachments\/[0-9a-f]{32}(\/thumbnail)?$/;

const UNITS = ["KB", "MB", "GB", "TB"];

/** "812 bytes", "1.2 KB", "25 MB": binary multiples, one decimal below 10. */
export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return "";
  if (n < 1024) return n === 1 ? "1 byte" : `${n} bytes`;
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
  return `${shown} ${UNITS[unit]}`;
}

/** The kind of file, from its name's extension: "PDF", "ZIP", or "File". */
export function fileKind(name) {
  const match = /\.([A-Za-z0-9]{1,8})$/.exec(String(name || ""));
  return match ? match[1].toUpperCase() : "File";
}

/** An attachment object as the server sends it, with its own URLs. */
export function isAttachment(a) {
  return (
    Boolean(a) &&
    Number.isInteger(a.id) &&
    typeof a.name === "string" &&
    typeof a.url === "string" &&
    OWN_URL.test(a.url) &&
    Number.isFinite(a.size)
  );
}

export function attachmentsOf(m) {
  return m && !m.deleted && Array.isArray(m.attachments) ? m.attachments.filter(isAttachment) : [];
}

function isPicture(a) {
  return (
    typeof a.thumbnail_url === "string" &&
    OWN_URL.test(a.thumbnail_url) &&
    Number.isInteger(a.width) &&
    Number.isInteger(a.height) &&
    a.width > 0 &&
    a.height > 0
  );
}

/** A line of text for a message: its text, or what it carries. */
export function summaryText(m) {
  const text = m && typeof m.text === "string" ? m.text.trim() : "";
  if (text) return text;
  const files = attachmentsOf(m);
  if (files.length === 0) return text;
  if (files.length > 1) return `Sent ${files.length} files`;
  return isPicture(files[0]) ? "Sent a picture" : "Sent a file";
}

// The size a thumbnail is shown at, from the picture's own size.
function shownSize(a) {
  const scale = Math.min(1, SHOWN_WIDTH / a.width, SHOWN_HEIGHT / a.height);
  return [Math.max(1, Math.round(a.width * scale)), Math.max(1, Math.round(a.height * scale))];
}

function pictureTile(a) {
  const b = make("button", "attachment-picture");
  b.type = "button";
  b.dataset.action = "view-picture";
  b.dataset.attachment = String(a.id);
  b.tabIndex = -1;
  b.setAttribute("aria-label", `${a.name}, picture, ${formatBytes(a.size)}: open`);
  const img = make("img", "attachment-thumb");
  const [width, height] = shownSize(a);
  img.width = width;
  img.height = height;
  img.alt = a.name;
  img.loading = "lazy";
  img.decoding = "async";
  img.src = a.thumbnail_url;
  b.append(img);
  return b;
}

export function fileIcon() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.classList.add("file-icon");
  for (const d of ["M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z", "M14 3v5h5"]) {
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

function fileCard(a) {
  const link = make("a", "file-card");
  link.href = a.url;
  link.download = a.name;
  link.tabIndex = -1;
  link.dataset.attachment = String(a.id);
  const text = make("span", "file-card-text");
  text.append(
    make("span", "file-card-name", a.name),
    make("span", "file-card-meta", `${fileKind(a.name)} · ${formatBytes(a.size)}`),
  );
  link.append(fileIcon(), text, make("span", "file-card-action", "Download"));
  link.setAttribute("aria-label", `Download ${a.name}, ${formatBytes(a.size)}`);
  return link;
}

/** The pictures and files of a message, or null when it has none. */
export function attachmentList(m) {
  const files = attachmentsOf(m);
  if (files.length === 0) return null;
  const wrap = make("div", "attachments");
  for (const a of files) wrap.append(isPicture(a) ? pictureTile(a) : fileCard(a));
  return wrap;
}

// ------------------------------------------------------------- viewer

let viewer = null;
let returnTo = null;

function buildViewer() {
  const dialog = make("dialog", "picture-viewer");
  dialog.id = "picture-viewer";
  dialog.setAttribute("aria-labelledby", "picture-viewer-name");
  const figure = make("figure", "picture-viewer-figure");
  const img = make("img", "picture-viewer-img");
  img.alt = "";
  const caption = make("figcaption", "picture-viewer-caption");
  const name = make("span", "picture-viewer-name");
  name.id = "picture-viewer-name";
  const size = make("span", "picture-viewer-size");
  const download = make("a", "button button-sm", "Download");
  const close = make("button", "button button-sm button-primary", "Close");
  close.type = "button";
  close.addEventListener("click", () => dialog.close());
  caption.append(name, size, download, close);
  figure.append(img, caption);
  dialog.append(figure);
  // A click on the backdrop (outside the picture and its caption) closes it.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener("close", () => {
    img.removeAttribute("src");
    if (returnTo && returnTo.isConnected) returnTo.focus({ preventScroll: true });
    returnTo = null;
  });
  document.body.append(dialog);
  return { dialog, img, name, size, download, close };
}

/** Opens the full picture `a` in the viewer; focus comes back to `from`. */
export function openViewer(a, from) {
  if (!isAttachment(a) || !isPicture(a)) return;
  if (!viewer) viewer = buildViewer();
  returnTo = from || null;
  viewer.img.width = a.width;
  viewer.img.height = a.height;
  viewer.img.alt = a.name;
  viewer.img.src = a.url;
  viewer.name.textContent = a.name;
  viewer.size.textContent = `${a.width} × ${a.height} · ${formatBytes(a.size)}`;
  viewer.download.href = a.url;
  viewer.download.download = a.name;
  viewer.download.setAttribute("aria-label", `Download ${a.name}`);
  if (!viewer.dialog.open) viewer.dialog.showModal();
  viewer.close.focus();
}
