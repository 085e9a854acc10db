/* The agents' inbox, live: the agent socket (/ws/agent/, protocol in docs/architecture.md),
   the composer (Enter sends, Shift+Enter a new line, "/" opens the canned replies) and the
   list's counts. Everything here is an enhancement: without it the pages work through plain
   form posts. Message text never goes through innerHTML: new messages are fetched as HTML
   the server rendered (escaped, sanitized Markdown), live text is set with textContent. */
(function () {
  "use strict";

  // On every dashboard page (the shell loads it): the socket's path comes from the shell's
  // <meta name="inbox-socket"> ("" when the server has no sockets); the inbox pages mark
  // their live part with id="inbox-live".
  var live = document.getElementById("inbox-live");
  var meta = document.querySelector('meta[name="inbox-socket"]');
  var socketPath = meta ? meta.getAttribute("content") : "";
  var marked = live || document.body;
  var conversationId = live && live.getAttribute("data-conversation") ? Number(live.getAttribute("data-conversation")) : null;
  var lastSeq = live ? Number(live.getAttribute("data-last-seq") || 0) : 0;
  var readSeq = live ? Number(live.getAttribute("data-read-seq") || 0) : 0;
  var socket = null;
  var backoff = 1000;
  var hiddenSince = null;
  var fetching = null;

  /* --- the socket ------------------------------------------------------------------ */
  function send(frame) {
    if (socket && socket.readyState === 1) socket.send(JSON.stringify(frame));
  }

  var failures = 0;
  var polling = null;

  // Without a socket (a server that does not speak WebSocket, or one that keeps failing)
  // the page polls: new messages every 5 s, the list every 20 s.
  function poll() {
    if (polling || !live) return;
    polling = window.setInterval(function () {
      if (document.hidden) return;
      if (conversationId) fetchNew(); else refreshList();
    }, conversationId ? 5000 : 20000);
  }

  function connect() {
    if (!socketPath || !("WebSocket" in window)) return poll();
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    try {
      socket = new WebSocket(scheme + location.host + socketPath);
    } catch (e) {
      return retry();
    }
    socket.addEventListener("open", function () {
      backoff = 1000;
      failures = 0;
      if (polling) { window.clearInterval(polling); polling = null; }
      marked.setAttribute("data-socket", "open");
      if (conversationId) send({ type: "subscribe", conversation: conversationId, after: lastSeq });
      heartbeat();
    });
    socket.addEventListener("message", function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame.type === "string") receive(frame);
    });
    socket.addEventListener("close", function () {
      socket = null;
      marked.setAttribute("data-socket", "closed");
      retry();
    });
  }

  function retry() {
    failures += 1;
    if (failures >= 3) poll();
    var wait = backoff + Math.floor(Math.random() * 500);
    backoff = Math.min(backoff * 2, 30000);
    window.setTimeout(connect, wait);
  }

  function away() {
    return hiddenSince !== null && Date.now() - hiddenSince > 5 * 60 * 1000;
  }
  function heartbeat() { send({ type: "heartbeat", away: away() }); }
  window.setInterval(heartbeat, 25000);
  document.addEventListener("visibilitychange", function () {
    hiddenSince = document.hidden ? Date.now() : null;
    if (!document.hidden) { heartbeat(); markRead(); }
  });

  function receive(frame) {
    switch (frame.type) {
      case "message": if (frame.conversation === conversationId) fetchNew(); break;
      case "typing": if (frame.conversation === conversationId && frame.who === "visitor") showTyping(frame); break;
      case "read": if (frame.conversation === conversationId && frame.who === "visitor") showSeen(Number(frame.seq)); break;
      case "delta": if (frame.conversation === conversationId) showDelta(frame.text); break;
      case "delta_end": hideDelta(); break;
      case "conversation": refreshList(); break;
      case "removed":
        refreshList();
        if ((frame.conversations || []).indexOf(conversationId) !== -1) showRemoved();
        break;
      case "counts": showCounts(frame.counts || {}); break;
      case "notification":
        document.dispatchEvent(new CustomEvent("inbox:notification", { detail: frame }));
        break;
    }
  }

  /* --- the conversation page ------------------------------------------------------- */
  var transcript = document.getElementById("transcript");

  function fetchNew() {
    if (!transcript || !live) return;
    if (fetching) { fetching.again = true; return; }
    fetching = { again: false };
    var url = live.getAttribute("data-messages-url") + "?after=" + lastSeq;
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        var doc = new DOMParser().parseFromString("<ol>" + html + "</ol>", "text/html");
        doc.querySelectorAll("li.msg[data-seq]").forEach(function (item) {
          var seq = Number(item.getAttribute("data-seq"));
          if (seq <= lastSeq || document.getElementById("m" + seq)) return;
          transcript.appendChild(document.importNode(item, true));
          lastSeq = seq;
          if (item.classList.contains("msg-bot")) hideDelta();
        });
        live.setAttribute("data-last-seq", String(lastSeq));
        hideTyping();
        showSeen(readSeq);
        var empty = document.querySelector(".transcript-empty");
        if (empty) empty.remove();
        var last = transcript.lastElementChild;
        if (last) last.scrollIntoView({ block: "nearest" });
        markRead();
      })
      .catch(function () {})
      .then(function () {
        var again = fetching && fetching.again;
        fetching = null;
        if (again) fetchNew();
      });
  }

  function markRead() {
    if (conversationId && live && !document.hidden && live.getAttribute("data-may-reply") === "1") {
      send({ type: "read", conversation: conversationId, seq: lastSeq });
    }
  }

  var typingLine = document.getElementById("visitor-typing");
  var typingTimer = null;
  function showTyping(frame) {
    if (!typingLine) return;
    if (!frame.typing) return hideTyping();
    var text = typingLine.querySelector("[data-typing-text]");
    var who = frame.name || "The visitor";
    text.textContent = frame.preview ? who + " is typing: " + frame.preview : who + " is typing…";
    typingLine.hidden = false;
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(hideTyping, 8000);
  }
  function hideTyping() { if (typingLine) typingLine.hidden = true; }

  function showSeen(seq) {
    if (!transcript || !seq) return;
    readSeq = Math.max(readSeq, seq);
    var marks = transcript.querySelectorAll(".msg-agent [data-seen]");
    var shown = null;
    marks.forEach(function (mark) {
      var item = mark.closest("li.msg");
      if (Number(item.getAttribute("data-seq")) <= readSeq) shown = mark;
      mark.hidden = true;
    });
    if (shown) shown.hidden = false;
  }

  var botLine = document.getElementById("bot-writing");
  function showDelta(text) {
    if (!botLine) return;
    var target = botLine.querySelector("[data-delta]");
    target.textContent = (target.textContent + String(text || "")).slice(-600);
    botLine.hidden = false;
  }
  function hideDelta() {
    if (!botLine) return;
    botLine.hidden = true;
    botLine.querySelector("[data-delta]").textContent = "";
  }

  /* --- the composer ---------------------------------------------------------------- */
  var composer = document.getElementById("composer");
  var cannedData = document.getElementById("canned-data");
  var canned = cannedData ? Array.prototype.map.call(cannedData.children, function (li) {
    return { shortcut: li.getAttribute("data-shortcut"), title: li.getAttribute("data-title"), text: li.getAttribute("data-text") };
  }) : [];
  var lastTyping = 0;
  var selected = 0;
  var touch = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;

  function textarea() { return composer && composer.querySelector("[data-composer-text]"); }
  function list() { return composer && composer.querySelector("#canned-list"); }

  function cannedMatches(value) {
    var match = /^\/([\w-]*)$/.exec(value);
    if (!match) return null;
    var word = match[1].toLowerCase();
    return canned.filter(function (r) {
      return r.shortcut.toLowerCase().indexOf(word) === 0 || r.title.toLowerCase().indexOf(word) !== -1;
    });
  }

  function renderCanned(matches) {
    var box = list(), area = textarea();
    if (!box || !area) return;
    box.textContent = "";
    if (matches === null) { box.hidden = true; area.removeAttribute("aria-activedescendant"); return; }
    selected = Math.min(selected, Math.max(matches.length - 1, 0));
    if (!matches.length) {
      var none = document.createElement("li");
      none.className = "canned-empty";
      none.textContent = canned.length ? "No canned reply matches." : "No canned replies yet.";
      box.appendChild(none);
    }
    matches.forEach(function (reply, i) {
      var item = document.createElement("li");
      item.setAttribute("role", "option");
      item.id = "canned-" + i;
      item.setAttribute("aria-selected", i === selected ? "true" : "false");
      var head = document.createElement("strong");
      head.textContent = "/" + reply.shortcut + " · " + reply.title;
      var body = document.createElement("span");
      body.className = "canned-text";
      body.textContent = reply.text;
      item.appendChild(head);
      item.appendChild(body);
      item.addEventListener("mousedown", function (e) { e.preventDefault(); insertCanned(reply); });
      box.appendChild(item);
    });
    box.hidden = false;
    if (matches.length) area.setAttribute("aria-activedescendant", "canned-" + selected);
    else area.removeAttribute("aria-activedescendant");
  }

  function insertCanned(reply) {
    var area = textarea();
    area.value = reply.text;
    area.removeAttribute("aria-activedescendant");
    renderCanned(null);
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }

  function submitComposer() {
    var area = textarea();
    if (!area.value.trim() && !composer.querySelector("[data-attach]").files.length) return;
    var id = composer.querySelector("[data-client-id]");
    if (id && window.crypto && crypto.randomUUID) id.value = crypto.randomUUID();
    if (typeof composer.requestSubmit === "function") composer.requestSubmit();
    else composer.submit();
  }

  if (composer) {
    composer.addEventListener("input", function (e) {
      if (!e.target.matches("[data-composer-text]")) return;
      selected = 0;
      renderCanned(cannedMatches(e.target.value));
      var now = Date.now();
      if (now - lastTyping > 2000 && e.target.value) {
        lastTyping = now;
        send({ type: "typing", conversation: conversationId, typing: true });
      }
    });
    composer.addEventListener("keydown", function (e) {
      if (!e.target.matches("[data-composer-text]")) return;
      var matches = cannedMatches(e.target.value);
      if (matches !== null && !list().hidden) {
        if (e.key === "ArrowDown" || e.key === "ArrowUp") {
          e.preventDefault();
          var step = e.key === "ArrowDown" ? 1 : -1;
          selected = (selected + step + matches.length) % Math.max(matches.length, 1);
          return renderCanned(matches);
        }
        if ((e.key === "Enter" || e.key === "Tab") && matches.length) {
          e.preventDefault();
          return insertCanned(matches[selected]);
        }
        if (e.key === "Escape") { e.preventDefault(); return renderCanned(null); }
      }
      // Enter sends on a keyboard; on a touch screen it makes a new line (the Send button sends).
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !touch) {
        e.preventDefault();
        submitComposer();
      }
    });
    composer.addEventListener("focusout", function (e) {
      if (e.target.matches("[data-composer-text]")) {
        renderCanned(null);
        send({ type: "typing", conversation: conversationId, typing: false });
      }
    });
    composer.addEventListener("change", function (e) {
      if (!e.target.matches("[data-attach]")) return;
      var names = composer.querySelector("[data-attach-names]");
      names.textContent = Array.prototype.map.call(e.target.files, function (f) { return f.name; }).join(", ");
    });
  }
  // After an htmx send the server answers a fresh composer and triggers "inbox:sent".
  document.body.addEventListener("inbox:sent", function () {
    lastTyping = 0;
    send({ type: "typing", conversation: conversationId, typing: false });
    fetchNew();
    var area = textarea();
    if (area) area.focus();
  });

  /* --- the list page --------------------------------------------------------------- */
  var listTimer = null;
  /* The open conversation was deleted (by an admin, the API, the visitor or retention):
     say so and stop offering to write in it. */
  function showRemoved() {
    if (!live || document.getElementById("conversation-removed")) return;
    var note = document.createElement("div");
    note.id = "conversation-removed";
    note.className = "alert alert-warning";
    note.setAttribute("role", "status");
    note.textContent = "This conversation was deleted. Its messages and files are gone.";
    live.parentNode.insertBefore(note, live);
    live.querySelectorAll("textarea, input, button, select").forEach(function (el) { el.disabled = true; });
  }

  function refreshList() {
    var listEl = document.getElementById("inbox-list");
    if (!listEl || !window.htmx) return;
    window.clearTimeout(listTimer);
    listTimer = window.setTimeout(function () { window.htmx.trigger(document.getElementById("inbox-list"), "inbox-refresh"); }, 300);
  }

  function showCounts(counts) {
    Object.keys(counts).forEach(function (key) {
      document.querySelectorAll('[data-count="' + key + '"]').forEach(function (el) {
        el.textContent = String(Number(counts[key]) || 0);
      });
    });
    if ("unread" in counts) {
      var n = Number(counts.unread) || 0;
      document.querySelectorAll('[data-nav-badge="conversations"]').forEach(function (badge) {
        var parts = badge.childNodes;
        // <span visually-hidden>, </span>N<span visually-hidden> unread</span>
        if (parts.length >= 2) parts[1].textContent = String(n);
        badge.hidden = n === 0;
      });
    }
  }

  // A long conversation opens on its latest messages (unless the address names a place).
  if (transcript && transcript.lastElementChild && !location.hash) {
    var lastItem = transcript.lastElementChild;
    if (lastItem.getBoundingClientRect().bottom > window.innerHeight) lastItem.scrollIntoView({ block: "end" });
  }

  // On a phone the views scroll sideways: show the current one.
  var currentView = document.querySelector(".inbox-views [aria-current]");
  if (currentView && currentView.parentElement.offsetLeft + currentView.offsetWidth > window.innerWidth) {
    currentView.scrollIntoView({ block: "nearest", inline: "center" });
  }

  connect();
})();
