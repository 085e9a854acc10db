/* Dashboard notifications, on every page of the app shell. The inbox's script dispatches
   document CustomEvents "inbox:notification" with the realtime frame as detail:
     {type: "notification", kind: "handoff"|"assigned"|"message", conversation: id, title, body}
   Each shows a toast (the design system's alert in the .toasts list), plays a short beep
   when the member's preference allows (<body data-notify-sound>), and, while the tab is
   hidden, a browser notification when permission was granted (<body data-notify-browser>).
   Permission is never asked on page load: a dismissible banner offers it once the member
   is in the inbox (the "inbox:ready" event) or the first notification arrives; a
   dismissal is remembered in localStorage. No inline script anywhere (the CSP). */
(function () {
  "use strict";

  var prefs = document.body.dataset;  // set by the app shell (chat.templatetags.chat_notify)
  var SOUND = prefs.notifySound === "1";
  var BROWSER = prefs.notifyBrowser === "1";
  var ICONS = prefs.notifyIcons || "";
  var CONVERSATION_URL = prefs.notifyConversationUrl || "";
  var DISMISSED = "chat.notify.permission-dismissed";
  var TOAST_MS = 8000;
  var MAX_TOASTS = 4;

  function icon(name) {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var use = document.createElementNS("http://www.w3.org/2000/svg", "use");
    use.setAttribute("href", ICONS + "#" + name);
    svg.appendChild(use);
    return svg;
  }

  function conversationUrl(id) {
    return CONVERSATION_URL && id ? CONVERSATION_URL.replace("{id}", String(id)) : "";
  }

  function text(value, fallback) {
    return typeof value === "string" && value.trim() ? value.trim().slice(0, 300) : fallback;
  }

  var TITLES = {handoff: "A visitor asked for a person", assigned: "A conversation was assigned to you",
                message: "New message"};

  /* --- toasts -------------------------------------------------------------------------- */
  function toastList() {
    var list = document.querySelector("ul.toasts");
    if (!list) {
      list = document.createElement("ul");
      list.className = "toasts";
      list.setAttribute("aria-label", "Notifications");
      document.body.appendChild(list);
    }
    return list;
  }

  function toast(frame) {
    var item = document.createElement("li");
    var alert = document.createElement("div");
    alert.className = "alert alert-info";
    alert.setAttribute("role", "status");
    alert.setAttribute("data-notification", frame.kind || "message");
    alert.appendChild(icon(frame.kind === "handoff" ? "user" : "info"));
    var body = document.createElement("div");
    body.className = "alert-body";
    var title = document.createElement("strong");
    title.textContent = text(frame.title, TITLES[frame.kind] || TITLES.message);
    body.appendChild(title);
    var detail = text(frame.body, "");
    if (detail) {
      body.appendChild(document.createTextNode(" "));
      body.appendChild(document.createTextNode(detail));
    }
    var url = conversationUrl(frame.conversation);
    if (url) {
      body.appendChild(document.createTextNode(" "));
      var link = document.createElement("a");
      link.href = url;
      link.textContent = "Open";
      body.appendChild(link);
    }
    alert.appendChild(body);
    var dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "dismiss";
    dismiss.setAttribute("data-dismiss", "");
    dismiss.setAttribute("aria-label", "Dismiss");
    dismiss.appendChild(icon("x"));
    dismiss.addEventListener("click", function () { item.remove(); });
    alert.appendChild(dismiss);
    item.appendChild(alert);
    var list = toastList();
    list.appendChild(item);
    while (list.children.length > MAX_TOASTS) list.removeChild(list.firstElementChild);
    window.setTimeout(function () {
      if (!item.matches(":hover, :focus-within")) item.remove();
    }, TOAST_MS);
  }

  /* --- sound: a short beep (WebAudio), once the page may play sound ---------------------- */
  var audio = null;
  function unlockAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!SOUND || audio || !Context) return;
    try { audio = new Context(); } catch (e) { audio = null; }
  }
  ["click", "keydown"].forEach(function (name) {
    document.addEventListener(name, unlockAudio, {once: true, capture: true});
  });
  function beep() {
    if (!SOUND || !audio || audio.state !== "running") return;
    var now = audio.currentTime;
    var osc = audio.createOscillator();
    var gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.setValueAtTime(880, now);
    osc.frequency.setValueAtTime(660, now + 0.09);
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.15, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.2);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start(now);
    osc.stop(now + 0.22);
  }

  /* --- browser notifications ---------------------------------------------------------- */
  function supported() { return BROWSER && "Notification" in window; }

  function browserNotify(frame) {
    if (!supported() || !document.hidden || window.Notification.permission !== "granted") return;
    var url = conversationUrl(frame.conversation);
    try {
      var shown = new window.Notification(text(frame.title, TITLES[frame.kind] || TITLES.message), {
        body: text(frame.body, ""),
        tag: "conversation-" + String(frame.conversation || ""),
      });
      shown.addEventListener("click", function () {
        window.focus();
        if (url) window.location.assign(url);
        shown.close();
      });
    } catch (e) { /* some browsers allow notifications from a service worker only */ }
  }

  /* --- the permission banner, offered once the member is in the inbox -------------------- */
  function dismissed() {
    try { return window.localStorage.getItem(DISMISSED) === "1"; } catch (e) { return false; }
  }
  function rememberDismissed() {
    try { window.localStorage.setItem(DISMISSED, "1"); } catch (e) { /* private mode */ }
  }

  function offerPermission() {
    if (!supported() || window.Notification.permission !== "default" || dismissed()) return;
    if (document.getElementById("notify-permission")) return;
    var banner = document.createElement("div");
    banner.id = "notify-permission";
    banner.className = "alert alert-info";
    banner.setAttribute("role", "region");
    banner.setAttribute("aria-label", "Browser notifications");
    banner.appendChild(icon("info"));
    var body = document.createElement("div");
    body.className = "alert-body";
    var p = document.createElement("p");
    p.textContent = "Get notified of new conversations and messages, even when this tab is in the background. ";
    var enable = document.createElement("button");
    enable.type = "button";
    enable.className = "btn btn-primary btn-sm";
    enable.textContent = "Turn on notifications";
    enable.addEventListener("click", function () {
      var asked = window.Notification.requestPermission(function () {});
      var done = function (answer) {
        if (answer !== "granted") rememberDismissed();
        banner.remove();
      };
      if (asked && typeof asked.then === "function") asked.then(done); else done(window.Notification.permission);
    });
    p.appendChild(enable);
    body.appendChild(p);
    banner.appendChild(body);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "dismiss";
    close.setAttribute("aria-label", "Not now");
    close.appendChild(icon("x"));
    close.addEventListener("click", function () { rememberDismissed(); banner.remove(); });
    banner.appendChild(close);
    var main = document.getElementById("main");
    if (main) main.insertBefore(banner, main.firstChild); else document.body.appendChild(banner);
  }

  document.addEventListener("inbox:ready", offerPermission);
  document.addEventListener("inbox:notification", function (event) {
    var frame = event.detail || {};
    if (frame.type && frame.type !== "notification") return;
    toast(frame);
    beep();
    browserNotify(frame);
    offerPermission();
  });
})();
