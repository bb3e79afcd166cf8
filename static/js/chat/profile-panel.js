// chatroom — the Discover page's chat, your profile without leaving the
// chat: the "Profile" tab opens a dialog to change your photo and your
// password; the socket stays connected, so you stay online and in the
// conversation you were in. Email, sessions and deleting the account stay
// on /profile, linked from the dialog (docs/page.md, "Profile").
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

import { known, me, online, rooms, socket } from "./state.js";
import { api, errorMessage, make } from "./util.js";

let dialog = null;
let opener = null;
const fields = {};

// One labelled input with its error line (aria-describedby) under it.
function field(id, label, input) {
  const wrap = make("div", "field");
  const lab = make("label", "", label);
  lab.htmlFor = id;
  input.id = id;
  const error = make("p", "field-error");
  error.id = `${id}-error`;
  error.hidden = true;
  input.setAttribute("aria-describedby", error.id);
  wrap.append(lab, input, error);
  fields[id] = { input, error };
  return wrap;
}

function showError(id, text) {
  const f = fields[id];
  f.error.textContent = text;
  f.error.hidden = !text;
  if (text) f.input.setAttribute("aria-invalid", "true");
  else f.input.removeAttribute("aria-invalid");
}

function clearErrors() {
  for (const id of Object.keys(fields)) showError(id, "");
}

function sentence(reason) {
  const text = String(reason || "").trim();
  if (!text) return "";
  const capital = `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function say(text) {
  dialog.querySelector(".profile-panel-status").textContent = text;
}

const isDefault = (url) => typeof url === "string" && url.startsWith("/avatars/default/");

function showPhoto(url) {
  const img = dialog.querySelector(".profile-panel-avatar");
  img.src = url;
  dialog.querySelector(".profile-panel-remove").hidden = isDefault(url);
}

function currentAvatar() {
  const img = document.querySelector(".topbar-user img");
  return img ? img.getAttribute("src") : "";
}

// ---------------------------------------------------------------- photo

async function uploadPhoto(event) {
  event.preventDefault();
  clearErrors();
  const file = fields["panel-photo"].input.files[0];
  if (!file) {
    showError("panel-photo", "Choose a photo first.");
    return;
  }
  const form = new FormData();
  form.append("photo", file);
  const submit = event.submitter || dialog.querySelector(".profile-panel-upload");
  submit.disabled = true;
  say("Uploading your photo…");
  let res = null;
  let data = null;
  try {
    res = await fetch("/api/v1/me/avatar", { method: "PUT", body: form, credentials: "same-origin" });
    data = await res.json().catch(() => null);
  } catch {
    // No answer at all: said below like any other failure.
  }
  submit.disabled = false;
  if (res && res.ok && data && data.user) {
    fields["panel-photo"].input.value = "";
    showPhoto(data.user.avatar_url);
    pictureChanged(data.user);
    say("Your photo is updated. Everyone sees it now.");
    return;
  }
  if (res && res.status === 401) window.location.assign("/login");
  const error = data && data.error ? data.error : null;
  const reason = error && error.fields ? error.fields.photo : "";
  say("");
  showError("panel-photo", sentence(reason) || errorMessage(error, "The photo could not be uploaded. Try again."));
}

async function removePhoto() {
  clearErrors();
  const res = await api("DELETE", "/api/v1/me/avatar");
  if (res.ok && res.data && res.data.user) {
    showPhoto(res.data.user.avatar_url);
    pictureChanged(res.data.user);
    say("Your photo is removed. Your initials show instead.");
    dialog.querySelector(".profile-panel-upload").focus();
    return;
  }
  say(errorMessage(res.error, "The photo could not be removed. Try again."));
}

// ------------------------------------------------------------- password

async function changePassword(event) {
  event.preventDefault();
  clearErrors();
  const current = fields["panel-current-password"].input;
  const next = fields["panel-new-password"].input;
  let missing = false;
  if (!current.value) {
    showError("panel-current-password", "Enter your current password.");
    missing = true;
  }
  if (!next.value) {
    showError("panel-new-password", "Enter a new password.");
    missing = true;
  }
  if (missing) {
    (current.value ? next : current).focus();
    return;
  }
  const submit = event.submitter || dialog.querySelector(".profile-panel-password-submit");
  submit.disabled = true;
  const res = await api("PUT", "/api/v1/me/password", {
    current_password: current.value,
    new_password: next.value,
  });
  submit.disabled = false;
  if (res.ok) {
    current.value = "";
    next.value = "";
    say("Your password is changed. Your other devices were signed out; this one stays signed in.");
    return;
  }
  const reasons = (res.error && res.error.fields) || {};
  if (reasons.current_password) showError("panel-current-password", sentence(reasons.current_password));
  if (reasons.new_password) showError("panel-new-password", sentence(reasons.new_password));
  if (!reasons.current_password && !reasons.new_password) {
    say(errorMessage(res.error, "The password could not be changed. Try again."));
  } else {
    (reasons.current_password ? current : next).focus();
  }
}

// --------------------------------------------------------------- dialog

function build() {
  const d = make("dialog", "profile-panel");
  d.id = "profile-panel";
  d.setAttribute("aria-labelledby", "profile-panel-title");
  const title = make("h2", "profile-panel-title", "Your profile");
  title.id = "profile-panel-title";

  const photo = make("form", "profile-panel-photo");
  photo.noValidate = true;
  const img = make("img", "avatar avatar-card profile-panel-avatar");
  img.alt = "Your avatar";
  img.width = 64;
  img.height = 64;
  const file = make("input");
  file.type = "file";
  file.name = "photo";
  file.accept = "image/png,image/jpeg,image/webp,image/gif";
  const upload = make("button", "button button-primary profile-panel-upload", "Upload");
  upload.type = "submit";
  const remove = make("button", "button button-ghost profile-panel-remove", "Remove photo");
  remove.type = "button";
  remove.addEventListener("click", removePhoto);
  const photoActions = make("div", "profile-panel-actions");
  photoActions.append(upload, remove);
  photo.append(img, field("panel-photo", "Photo", file), photoActions);
  photo.addEventListener("submit", uploadPhoto);

  const password = make("form", "profile-panel-password");
  password.noValidate = true;
  const legend = make("h3", "profile-panel-subtitle", "Password");
  // Lets a password manager know whose password changes.
  const who = make("input");
  who.type = "text";
  who.name = "username";
  who.autocomplete = "username";
  who.value = me.username;
  who.hidden = true;
  const current = make("input");
  current.type = "password";
  current.autocomplete = "current-password";
  const next = make("input");
  next.type = "password";
  next.autocomplete = "new-password";
  next.minLength = 8;
  const change = make("button", "button button-primary profile-panel-password-submit", "Change password");
  change.type = "submit";
  password.append(
    legend,
    who,
    field("panel-current-password", "Current password", current),
    field("panel-new-password", "New password", next),
    change,
  );
  password.addEventListener("submit", changePassword);

  const status = make("p", "profile-panel-status");
  status.setAttribute("role", "status");
  const more = make("a", "profile-panel-more", "Email, sessions and deleting your account");
  more.href = "/profile";
  const close = make("button", "button profile-panel-close", "Close");
  close.type = "button";
  close.addEventListener("click", () => d.close());
  const footer = make("div", "profile-panel-footer");
  footer.append(more, close);

  d.append(title, status, photo, password, footer);
  d.addEventListener("close", () => {
    if (opener && opener.isConnected) opener.focus({ preventScroll: true });
    opener = null;
  });
  document.body.append(d);
  return d;
}

export function openProfilePanel() {
  if (!dialog) dialog = build();
  opener = document.activeElement;
  clearErrors();
  say("");
  showPhoto(currentAvatar());
  if (!dialog.open) dialog.showModal();
  dialog.querySelector(".profile-panel-upload").focus();
}

// The Profile tab opens the dialog; a modified click (new tab) still goes
// to /profile, as does the page without JavaScript.
const tab = document.querySelector('.tabs a[href="/profile"]');
if (tab) {
  tab.setAttribute("aria-haspopup", "dialog");
  tab.addEventListener("click", (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    openProfilePanel();
  });
}

// ------------------------------------------------- pictures everywhere

// Someone's picture changed (maybe yours, maybe on another device): every
// picture of them on screen, and what later renders use, follow at once.
function pictureChanged(user) {
  if (!user || typeof user.id !== "number" || typeof user.avatar_url !== "string") return;
  const url = user.avatar_url;
  for (const img of document.querySelectorAll(`img[data-user-id="${user.id}"]`)) img.src = url;
  const person = online.get(user.id);
  if (person) person.avatar_url = url;
  for (const m of known.values()) {
    if (m.author && m.author.id === user.id) m.author.avatar_url = url;
  }
  for (const room of rooms.values()) {
    if (room.peer && room.peer.id === user.id) room.peer.avatar_url = url;
  }
  if (user.id === me.id) {
    const top = document.querySelector(".topbar-user img");
    if (top) top.src = url;
    if (dialog) showPhoto(url);
  }
}

socket.on("user_updated", (payload) => pictureChanged(payload && payload.user));
