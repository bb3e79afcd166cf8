// The Discover page: live chat over Socket.IO (see docs/realtime.md).
// User text is only ever put into the page with textContent / text nodes.
(function () {
  "use strict";

  var MAX_CHARS = 2000;
  var NEAR_LIMIT = 1800;
  var PAGE = 50;
  var GROUP_GAP_MS = 5 * 60 * 1000;
  var TYPING_SEND_EVERY_MS = 2000;
  var TYPING_SHOWN_MS = 4000;
  var URL_PATTERN = /https?:\/\/[^\s<>"']+/g;

  var meta = document.querySelector('meta[name="chatroom-user"]');
  if (!meta || typeof io !== "function") {
    return;
  }
  var me = { id: Number(meta.getAttribute("content")), username: meta.getAttribute("data-username") || "" };

  var els = {
    scroller: document.getElementById("messages"),
    list: document.getElementById("message-list"),
    historyStatus: document.getElementById("history-status"),
    newMessages: document.getElementById("new-messages"),
    connection: document.getElementById("connection"),
    typing: document.getElementById("typing"),
    form: document.getElementById("composer"),
    input: document.getElementById("message-input"),
    counter: document.getElementById("char-count"),
    send: document.getElementById("send-button"),
    online: document.getElementById("online-list"),
    onlineCount: document.getElementById("online-count"),
    onlineCountToggle: document.getElementById("online-count-toggle"),
    sidebar: document.getElementById("sidebar"),
    sidebarToggle: document.getElementById("sidebar-toggle")
  };

  var messages = new Map(); // id → element
  var pending = new Map(); // local key → {text, el}
  var online = new Map(); // user id → user (the server lists at most 200)
  var onlineTotal = 0;
  var typers = new Map(); // user id → {username, until}
  var maxId = 0;
  var minId = Infinity;
  var loadedOnce = false;
  var reachedStart = false;
  var loadingOlder = false;
  var catchingUp = false;
  var lastTypingSent = 0;
  var pendingSeq = 0;

  var socket = io({ transports: ["websocket", "polling"] });

  // ---------- connection state ----------

  function setConnection(state, text) {
    els.connection.setAttribute("data-state", state);
    els.connection.textContent = text;
  }

  socket.on("connect", function () {
    setConnection("connected", "Connected");
    if (!loadedOnce) {
      loadLatest();
    } else {
      catchUp();
    }
    flushQueued();
  });

  socket.on("disconnect", function (reason) {
    setConnection("reconnecting", "Reconnecting…");
    if (reason === "io server disconnect") {
      // The server ended this session's sockets (logout elsewhere, password
      // change…); reconnecting tells us whether we are still signed in.
      setTimeout(function () {
        socket.connect();
      }, 500);
    }
  });

  socket.on("connect_error", function (err) {
    if (err && err.message === "unauthenticated") {
      setConnection("offline", "Signed out");
      window.location.assign("/login");
      return;
    }
    setConnection("reconnecting", "Reconnecting…");
  });

  socket.io.on("reconnect_attempt", function () {
    setConnection("reconnecting", "Reconnecting…");
  });

  socket.io.on("reconnect_failed", function () {
    setConnection("offline", "Offline");
  });

  window.addEventListener("offline", function () {
    setConnection("offline", "Offline");
  });

  // ---------- rendering ----------

  function formatTime(date) {
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function appendLinkified(parent, text) {
    var last = 0;
    text.replace(URL_PATTERN, function (match, offset) {
      var url = match.replace(/[.,;:!?)\]]+$/, "");
      if (offset > last) {
        parent.appendChild(document.createTextNode(text.slice(last, offset)));
      }
      var link = document.createElement("a");
      link.href = url;
      link.textContent = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      parent.appendChild(link);
      last = offset + url.length;
      return match;
    });
    if (last < text.length) {
      parent.appendChild(document.createTextNode(text.slice(last)));
    }
  }

  function avatarFor(author) {
    if (!author) {
      var placeholder = document.createElement("span");
      placeholder.className = "avatar avatar-placeholder";
      placeholder.setAttribute("aria-hidden", "true");
      placeholder.textContent = "?";
      return placeholder;
    }
    var img = document.createElement("img");
    img.className = "avatar";
    img.src = author.avatar_url;
    img.alt = "";
    img.width = 40;
    img.height = 40;
    img.loading = "lazy";
    return img;
  }

  function buildMessage(message, isPending) {
    var li = document.createElement("li");
    li.className = "message";
    var author = message.author;
    li.setAttribute("data-author", author ? String(author.id) : "deleted");
    if (message.created_at) {
      li.setAttribute("data-time", String(Date.parse(message.created_at)));
    }
    li.appendChild(avatarFor(author));

    var metaRow = document.createElement("div");
    metaRow.className = "message-meta";
    var name = document.createElement("span");
    name.className = "message-author" + (author ? "" : " is-deleted");
    name.textContent = author ? author.username : "Deleted user";
    metaRow.appendChild(name);
    var time = document.createElement("time");
    time.className = "message-time";
    var when = message.created_at ? new Date(message.created_at) : new Date();
    time.dateTime = when.toISOString();
    time.title = when.toLocaleString();
    time.textContent = formatTime(when);
    metaRow.appendChild(time);
    li.appendChild(metaRow);

    var body = document.createElement("div");
    body.className = "message-body";
    appendLinkified(body, message.text);
    li.appendChild(body);

    if (isPending) {
      li.classList.add("is-pending");
      var status = document.createElement("div");
      status.className = "message-status";
      status.textContent = "Sending…";
      li.appendChild(status);
    }
    return li;
  }

  function regroup(li) {
    if (!li) {
      return;
    }
    var prev = li.previousElementSibling;
    var continuation =
      prev &&
      prev.getAttribute("data-author") === li.getAttribute("data-author") &&
      li.getAttribute("data-author") !== "deleted" &&
      Math.abs(Number(li.getAttribute("data-time")) - Number(prev.getAttribute("data-time"))) < GROUP_GAP_MS;
    li.classList.toggle("is-continuation", Boolean(continuation));
    li.classList.toggle("is-first", !continuation);
  }

  function isAtBottom() {
    var s = els.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
  }

  function scrollToBottom() {
    els.scroller.scrollTop = els.scroller.scrollHeight;
    els.newMessages.hidden = true;
  }

  // Inserts a confirmed message in id order; false when it was already shown.
  function insertMessage(message) {
    if (messages.has(message.id)) {
      return false;
    }
    var li = buildMessage(message, false);
    li.setAttribute("data-id", String(message.id));
    var before = null;
    if (message.id < maxId) {
      var nodes = els.list.querySelectorAll("li[data-id]");
      for (var i = 0; i < nodes.length; i++) {
        if (Number(nodes[i].getAttribute("data-id")) > message.id) {
          before = nodes[i];
          break;
        }
      }
    } else {
      // After every confirmed message, before the pending ones.
      before = els.list.querySelector("li.is-pending, li.is-failed");
    }
    els.list.insertBefore(li, before);
    messages.set(message.id, li);
    maxId = Math.max(maxId, message.id);
    minId = Math.min(minId, message.id);
    regroup(li);
    regroup(li.nextElementSibling);
    return true;
  }

  function addLive(message) {
    var stick = isAtBottom();
    if (insertMessage(message)) {
      if (stick || isMine(message)) {
        scrollToBottom();
      } else {
        els.newMessages.hidden = false;
      }
    }
  }

  function isMine(message) {
    return message.author && message.author.id === me.id;
  }

  function setHistoryStatus(text) {
    els.historyStatus.textContent = text;
    els.historyStatus.hidden = !text;
  }

  // ---------- history ----------

  function askHistory(query, done) {
    socket.timeout(10000).emit("history", query, function (err, reply) {
      if (err || !reply || !reply.ok) {
        done(null);
        return;
      }
      done(reply.messages || []);
    });
  }

  function loadLatest() {
    setHistoryStatus("Loading…");
    askHistory({ limit: PAGE }, function (list) {
      if (!list) {
        setHistoryStatus("Could not load the history.");
        return;
      }
      loadedOnce = true;
      list.forEach(insertMessage);
      reachedStart = list.length < PAGE;
      setHistoryStatus(reachedStart ? "Beginning of the conversation" : "");
      scrollToBottom();
    });
  }

  function loadOlder() {
    if (loadingOlder || reachedStart || !loadedOnce || !socket.connected || minId === Infinity) {
      return;
    }
    loadingOlder = true;
    setHistoryStatus("Loading…");
    askHistory({ before: minId, limit: PAGE }, function (list) {
      loadingOlder = false;
      if (!list) {
        setHistoryStatus("");
        return;
      }
      var previousHeight = els.scroller.scrollHeight;
      var previousTop = els.scroller.scrollTop;
      list.forEach(insertMessage);
      els.scroller.scrollTop = previousTop + (els.scroller.scrollHeight - previousHeight);
      reachedStart = list.length < PAGE;
      setHistoryStatus(reachedStart ? "Beginning of the conversation" : "");
    });
  }

  // After a reconnect: everything newer than the last message we saw.
  function catchUp() {
    if (catchingUp) {
      return;
    }
    catchingUp = true;
    var stick = isAtBottom();
    var step = function () {
      askHistory({ after: maxId, limit: 100 }, function (list) {
        if (!list) {
          catchingUp = false;
          return;
        }
        list.forEach(insertMessage);
        if (list.length === 100) {
          step();
          return;
        }
        catchingUp = false;
        if (stick) {
          scrollToBottom();
        } else if (list.length) {
          els.newMessages.hidden = false;
        }
      });
    };
    step();
  }

  els.scroller.addEventListener("scroll", function () {
    if (els.scroller.scrollTop < 80) {
      loadOlder();
    }
    if (isAtBottom()) {
      els.newMessages.hidden = true;
    }
  });

  els.newMessages.addEventListener("click", function () {
    scrollToBottom();
    els.input.focus();
  });

  socket.on("message", addLive);

  // ---------- sending ----------

  function setStatus(entry, text, failed) {
    var status = entry.el.querySelector(".message-status");
    status.textContent = text;
    entry.el.classList.toggle("is-failed", failed);
    entry.el.classList.toggle("is-pending", !failed);
    if (failed) {
      var retry = document.createElement("button");
      retry.type = "button";
      retry.className = "button";
      retry.textContent = "Retry";
      retry.addEventListener("click", function () {
        setStatus(entry, "Sending…", false);
        deliver(entry);
      });
      var discard = document.createElement("button");
      discard.type = "button";
      discard.className = "button button-ghost";
      discard.textContent = "Discard";
      discard.addEventListener("click", function () {
        pending.delete(entry.key);
        entry.el.remove();
      });
      status.appendChild(retry);
      status.appendChild(discard);
    }
  }

  function deliver(entry) {
    if (!socket.connected) {
      setStatus(entry, "Waiting for the connection…", false);
      entry.queued = true;
      return;
    }
    entry.queued = false;
    socket.timeout(15000).emit("message", { text: entry.text }, function (err, ack) {
      if (err) {
        setStatus(entry, "No answer from the server.", true);
        return;
      }
      if (ack && ack.ok && ack.message) {
        pending.delete(entry.key);
        entry.el.remove();
        addLive(ack.message);
        return;
      }
      var reason = ack && ack.error && ack.error.message ? ack.error.message : "The message was not sent.";
      if (ack && ack.error && ack.error.code === "rate_limited") {
        reason = "You are sending too fast. Wait a moment.";
      }
      setStatus(entry, reason, true);
    });
  }

  function flushQueued() {
    pending.forEach(function (entry) {
      if (entry.queued) {
        setStatus(entry, "Sending…", false);
        deliver(entry);
      }
    });
  }

  function send() {
    var text = els.input.value.trim();
    if (!text || Array.from(text).length > MAX_CHARS) {
      return;
    }
    pendingSeq += 1;
    var key = "p" + pendingSeq;
    var el = buildMessage({ author: { id: me.id, username: me.username, avatar_url: ownAvatar() }, text: text }, true);
    el.setAttribute("data-pending", key);
    els.list.appendChild(el);
    regroup(el);
    var entry = { key: key, text: text, el: el, queued: false };
    pending.set(key, entry);
    els.input.value = "";
    // The next keystroke announces typing again.
    lastTypingSent = 0;
    updateComposer();
    scrollToBottom();
    deliver(entry);
  }

  function ownAvatar() {
    var mine = online.get(me.id);
    if (mine) {
      return mine.avatar_url;
    }
    var top = document.querySelector(".topbar-user img");
    return top ? top.getAttribute("src") : "";
  }

  function updateComposer() {
    var input = els.input;
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 200) + "px";
    var length = Array.from(input.value).length;
    var over = length > MAX_CHARS;
    els.counter.classList.toggle("is-near", length >= NEAR_LIMIT && !over);
    els.counter.classList.toggle("is-over", over);
    els.counter.textContent = length >= NEAR_LIMIT ? length + " / " + MAX_CHARS : "";
    els.send.disabled = over;
  }

  els.form.addEventListener("submit", function (event) {
    event.preventDefault();
    send();
  });

  els.input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });

  els.input.addEventListener("input", function () {
    updateComposer();
    var now = Date.now();
    if (socket.connected && els.input.value.trim() && now - lastTypingSent > TYPING_SEND_EVERY_MS) {
      lastTypingSent = now;
      socket.emit("typing", {});
    }
  });

  // ---------- presence ----------

  function renderOnline() {
    var people = Array.from(online.values()).sort(function (a, b) {
      return a.username.toLowerCase().localeCompare(b.username.toLowerCase());
    });
    els.online.textContent = "";
    people.forEach(function (user) {
      var li = document.createElement("li");
      li.className = "online-item";
      var img = document.createElement("img");
      img.className = "avatar avatar-sm";
      img.src = user.avatar_url;
      img.alt = "";
      img.width = 32;
      img.height = 32;
      li.appendChild(img);
      var name = document.createElement("span");
      name.textContent = user.username;
      li.appendChild(name);
      if (user.id === me.id) {
        var you = document.createElement("span");
        you.className = "you";
        you.textContent = "(you)";
        li.appendChild(you);
      }
      els.online.appendChild(li);
    });
    var count = String(Math.max(onlineTotal, online.size));
    els.onlineCount.textContent = count;
    els.onlineCountToggle.textContent = count;
  }

  socket.on("presence", function (snapshot) {
    online.clear();
    (snapshot.online || []).forEach(function (user) {
      online.set(user.id, user);
    });
    onlineTotal = Number(snapshot.count) || online.size;
    renderOnline();
  });

  socket.on("presence_diff", function (diff) {
    (diff.joined || []).forEach(function (user) {
      online.set(user.id, user);
    });
    (diff.left || []).forEach(function (user) {
      online.delete(user.id);
      typers.delete(user.id);
    });
    if (typeof diff.count === "number") {
      onlineTotal = diff.count;
    }
    renderOnline();
    renderTyping();
  });

  // ---------- typing ----------

  function renderTyping() {
    var now = Date.now();
    var names = [];
    typers.forEach(function (entry, id) {
      if (entry.until < now) {
        typers.delete(id);
      } else {
        names.push(entry.username);
      }
    });
    var text = "";
    if (names.length === 1) {
      text = names[0] + " is typing…";
    } else if (names.length === 2) {
      text = names[0] + " and " + names[1] + " are typing…";
    } else if (names.length > 2) {
      text = "Several people are typing…";
    }
    if (els.typing.textContent !== text) {
      els.typing.textContent = text;
    }
  }

  socket.on("typing", function (payload) {
    var user = payload && payload.user;
    if (!user || user.id === me.id) {
      return;
    }
    typers.set(user.id, { username: user.username, until: Date.now() + TYPING_SHOWN_MS });
    renderTyping();
  });

  socket.on("message", function (message) {
    if (message && message.author) {
      typers.delete(message.author.id);
      renderTyping();
    }
  });

  setInterval(renderTyping, 1000);

  // ---------- sidebar on small screens ----------

  els.sidebarToggle.addEventListener("click", function () {
    var open = !els.sidebar.classList.contains("is-open");
    els.sidebar.classList.toggle("is-open", open);
    els.sidebarToggle.setAttribute("aria-expanded", String(open));
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && els.sidebar.classList.contains("is-open")) {
      els.sidebar.classList.remove("is-open");
      els.sidebarToggle.setAttribute("aria-expanded", "false");
      els.sidebarToggle.focus();
    }
  });

  updateComposer();
})();
