// chatroom — the Discover page's chat, the connection status, the drawers on
// narrow screens, and start-up.
//
// Part of the chat page's scripts, loaded in order (CHAT_SCRIPTS in
// src/accounts/pages.rs) as classic deferred scripts; they share state and
// functions through the one namespace object window.chatroom. Security rule:
// text from the server is only ever put into the page as text (textContent,
// Node.append(string)); never as HTML.
(() => {
  "use strict";

  const app = window.chatroom;
  if (!app || !app.socket) return; // not the chat page (see state.js)
  const { catchUp, closeCard, el, flushQueued, loadLatest, page, refreshRooms, renderNotifyButton,
    renderRooms, renderTyping, setNotice, socket, typers, updateComposer, wide } = app;

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

  socket.connect();
  updateComposer();
  renderRooms();
  renderNotifyButton();
  setNotice("");
  refreshRooms();
  if (wide()) {
    el.input.focus({ preventScroll: true });
  }

  Object.assign(app, { closeDrawers });
})();
