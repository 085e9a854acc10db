/* Chat widget loader. Embed: <script async src="https://HOST/w/v1/loader.js" data-widget="wk_..."></script>
   Draws the launcher in a Shadow DOM and loads the chat UI only when the visitor opens it.
   API (calls made before load are queued): ChatWidget.open(), close(), toggle(),
   identify({id, email, name, user_hash}), setLocale("de"), on("open"|"close"|"message", fn).
   Optional attributes: data-resume="<token>" continues a conversation from an email link (the
   platform's resume page sets it; never read from the URL), and data-transport="ws"|"sse"|"poll"
   (or window.ChatWidgetTransport) forces the live transport (tests; default: WebSocket, then
   server-sent events, then polling, each when the one before cannot connect); data-full-page
   draws the open chat over the whole page (the resume page). */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-widget]");
  if (!script || window.__chatWidgetLoaded) return;
  window.__chatWidgetLoaded = true;
  var KEY = script.getAttribute("data-widget") || "";
  var BASE = new URL(script.src, location.href).origin;
  var API = BASE + "/api/widget/v1/" + encodeURIComponent(KEY);
  var CHAT_UI = BASE + "__CHAT_UI_PATH__";
  var RESUME = script.getAttribute("data-resume") || "";
  var STRINGS = {
    en: {open: "Open chat", close: "Close chat", offline: "Chat is offline right now."},
    es: {open: "Abrir chat", close: "Cerrar chat", offline: "El chat no está disponible ahora."},
    fr: {open: "Ouvrir le chat", close: "Fermer le chat", offline: "Le chat est hors ligne."},
    de: {open: "Chat öffnen", close: "Chat schließen", offline: "Der Chat ist gerade offline."}
  };
  var pending = [], handlers = {}, state = {open: false, locale: (navigator.language || "en").slice(0, 2)};
  var queued = window.ChatWidget;
  var host, root, launcher, config, ui;
  var ICONS = {chat: "M4 4h16v12H7l-3 3z", help: "M12 2a10 10 0 100 20 10 10 0 000-20zm1 16h-2v-2h2zm2.1-7.8l-.9.9c-.7.7-1.2 1.3-1.2 2.9h-2v-.5c0-1.1.5-2.1 1.2-2.8l1.2-1.3a1.9 1.9 0 10-3.3-1.3H8a4 4 0 118 0c0 .9-.4 1.6-.9 2.1z",
    spark: "M12 2l2.4 6.6L21 11l-6.6 2.4L12 20l-2.4-6.6L3 11l6.6-2.4z"};

  function t(name) { return (STRINGS[state.locale] || STRINGS.en)[name]; }
  function emit(name, data) { (handlers[name] || []).forEach(function (fn) { try { fn(data); } catch (e) { setTimeout(function () { throw e; }); } }); }
  function call(name, args) {
    if (name === "on") { (handlers[args[0]] = handlers[args[0]] || []).push(args[1]); return; }
    if (name === "setLocale") { state.locale = String(args[0] || "en").slice(0, 2); if (launcher) launcher.setAttribute("aria-label", t(state.open ? "close" : "open")); }
    if (name === "open" || (name === "toggle" && !state.open)) return openChat();
    if (name === "close" || (name === "toggle" && state.open)) return closeChat();
    if (ui) ui.call(name, args); else pending.push([name, args]);
  }

  var api = {};
  ["open", "close", "toggle", "identify", "setLocale", "on"].forEach(function (name) {
    api[name] = function () { call(name, Array.prototype.slice.call(arguments)); };
  });
  // Builder preview: draw from the given (unsaved) settings; nothing is sent to the server.
  api.preview = function (c) {
    var wasOpen = state.open;
    if (state.open) closeChat();
    if (host) host.remove();
    ui = null; config = Object.assign({available: true, preview: true}, c);
    draw();
    if (wasOpen) openChat();
  };
  window.ChatWidget = api;

  function draw() {
    host = document.createElement("div");
    host.setAttribute("data-chat-widget", KEY);
    host.style.cssText = "all:initial;position:fixed;z-index:2147483000;bottom:0;" + (config.position === "left" ? "left:0" : "right:0");
    root = host.attachShadow({mode: "open"});
    var color = config.available === false ? "#6b7280" : (config.colors && config.colors.primary) || "#2d5bd7";
    var text = (config.colors && config.colors.text) || "#fff";
    var off = config.offset || {x: 20, y: 20}, side = config.position === "left" ? "left" : "right";
    if (config.locale && config.locale !== "auto") state.locale = config.locale;
    root.innerHTML =
      "<style>:host{all:initial}button{all:unset;box-sizing:border-box;cursor:pointer;position:fixed;bottom:" + (+off.y || 0) + "px;" +
      side + ":" + (+off.x || 0) + "px;width:56px;height:56px;border-radius:50%;background:" + color +
      ";color:" + text + ";display:flex;align-items:center;justify-content:center;box-shadow:0 4px 14px rgba(0,0,0,.25);" +
      "transition:transform .15s}button:hover{transform:scale(1.06)}button:focus-visible{outline:3px solid " + color +
      ";outline-offset:3px}svg{width:28px;height:28px;fill:currentColor}@media (prefers-reduced-motion:reduce){button{transition:none}}</style>" +
      "<button type=\"button\" part=\"launcher\" aria-haspopup=\"dialog\" aria-expanded=\"false\">" +
      "<svg viewBox=\"0 0 24 24\" aria-hidden=\"true\"><path d=\"" + (ICONS[config.launcher_icon] || ICONS.chat) + "\"/></svg></button>";
    launcher = root.querySelector("button");
    if (/^data:image\/(png|jpeg|gif|webp);base64,/.test(config.launcher_image || "")) {
      var img = document.createElement("img");
      img.src = config.launcher_image; img.alt = ""; img.style.cssText = "width:32px;height:32px;object-fit:contain";
      launcher.replaceChildren(img);
    }
    launcher.setAttribute("aria-label", t("open"));
    launcher.addEventListener("click", function () { call("toggle", []); });
    document.body.appendChild(host);
    emit("ready", {available: config.available !== false});
  }

  function openChat() {
    if (state.open || !config) { if (!config) pending.push(["open", []]); return; }
    state.open = true;
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", t("close"));
    if (ui) { ui.show(); emit("open"); return; }
    if (window.__chatWidgetUI) return mountUI();
    var s = document.createElement("script");
    s.src = CHAT_UI; s.async = true;
    s.onload = mountUI;
    document.head.appendChild(s);
  }

  function mountUI() {
    if (ui) return;
    ui = window.__chatWidgetUI({root: root, launcher: launcher, api: API, key: KEY, config: config,
      locale: function () { return state.locale; }, emit: emit, close: closeChat, resume: RESUME, fullPage: script.hasAttribute("data-full-page"),
      transport: script.getAttribute("data-transport") || window.ChatWidgetTransport || ""});
    pending.splice(0).forEach(function (c) { if (c[0] !== "open") ui.call(c[0], c[1]); });
    if (state.open) { ui.show(); emit("open"); }  // the visitor may have closed it while it loaded
  }

  function closeChat() {
    if (!state.open) return;
    state.open = false;
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", t("open"));
    if (ui) ui.hide();
    launcher.focus();
    emit("close");
  }

  function start() {
    fetch(API + "/config", {credentials: "omit"}).then(function (r) {
      if (r.status === 403 || r.status === 404) return null;  // not allowed on this site: draw nothing
      return r.ok ? r.json() : {available: false};
    }).catch(function () { return null; }).then(function (c) {  // refused by CORS, or unreachable
      if (!c) { if (window.console) console.warn("Chat widget: not available on this site (" + location.origin + ")."); return; }
      config = c;
      draw();
      var early = pending.splice(0);
      early.forEach(function (c) { call(c[0], c[1]); });
      if (RESUME && config.available !== false) openChat();  // back from an email link: show the conversation
    });
  }

  if (queued && queued.q) queued.q.forEach(function (c) { call(c[0], Array.prototype.slice.call(c[1] || [])); });
  var previewConfig = script.getAttribute("data-preview-config");
  function boot() { if (previewConfig) api.preview(JSON.parse(previewConfig)); else start(); }
  if (document.body) boot(); else document.addEventListener("DOMContentLoaded", boot);
})();
