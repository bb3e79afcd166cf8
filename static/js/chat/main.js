// chatroom — the Discover page's chat, the connection status and start-up:
// the page's one module entry (<script type="module">), importing every other
// module.
//
// One of the chat page's ES modules (see state.js). Security rule: text from
// the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.

// Every module, in the order the page used to load them as classic scripts.
// state.js and util.js come first: the others use them while they load; the
// rest only call each other later, from event handlers (so import cycles
// between them are fine).
import { el, page, socket, typers } from "./state.js";
import { wide } from "./util.js";
import "./messages.js";
import { catchUp, loadLatest } from "./history.js";
import { flushQueued, updateComposer } from "./sending.js";
import "./uploads.js";
import { loadDraft } from "./drafts.js";
import "./message-actions.js";
import { refreshRooms, renderRooms, setNotice } from "./conversations.js";
import "./directory.js";
import "./search.js";
import { renderTyping } from "./people.js";
import { renderNotifyButton } from "./notifications.js";
import "./drawers.js";
import { refreshThreads, threadsReconnected } from "./threads.js";
import "./shortcuts.js";
import { loginAddress, signedOut } from "./live-signals.js";
import { startAtAddress } from "./addresses.js";
import "./profile-panel.js";
import "./people-directory.js";

// --------------------------------------------------------- connection

let everConnected = false;

const STATES = { connected: "Connected", reconnecting: "Reconnecting…", offline: "Offline" };

function setConnection(state) {
  if (el.connection.dataset.state === state) return;
  el.connection.dataset.state = state;
  el.connection.textContent = STATES[state];
}

socket.on("connect", () => {
  setConnection("connected");
  if (!page.loaded) loadLatest();
  else catchUp();
  if (everConnected) {
    refreshRooms();
    threadsReconnected();
  }
  everConnected = true;
  flushQueued();
});

socket.on("disconnect", (reason) => {
  typers.clear();
  renderTyping();
  if (signedOut()) return; // on the way to the login page (live-signals.js)
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
    window.location.assign(loginAddress());
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

// -------------------------------------------------------------- start

startAtAddress();
socket.connect();
el.input.value = loadDraft(page.current);
updateComposer();
renderRooms();
renderNotifyButton();
setNotice("");
refreshRooms();
refreshThreads();
if (wide()) {
  el.input.focus({ preventScroll: true });
}
