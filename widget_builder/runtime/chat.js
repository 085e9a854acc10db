/* Chat widget UI, loaded by loader.js when the visitor first opens the widget.
   Renders inside the loader's Shadow DOM: the host page's CSS cannot reach it, ours cannot leak. */
(function () {
  "use strict";
  var STRINGS = {
    en: {title: "Chat", close: "Close chat", send: "Start the conversation", offline: "We are offline right now. Please try again later.",
         required: "This field is required.", started: "Thanks! Your conversation has started.", error: "Something went wrong. Please try again.",
         consent: "I agree", message: "Write a message…", sendMessage: "Send"},
    es: {title: "Chat", close: "Cerrar chat", send: "Iniciar la conversación", offline: "Ahora no estamos disponibles. Inténtalo más tarde.",
         required: "Este campo es obligatorio.", started: "¡Gracias! Tu conversación ha comenzado.", error: "Algo salió mal. Inténtalo de nuevo.",
         consent: "Acepto", message: "Escribe un mensaje…", sendMessage: "Enviar"},
    fr: {title: "Chat", close: "Fermer le chat", send: "Démarrer la conversation", offline: "Nous sommes hors ligne. Réessayez plus tard.",
         required: "Ce champ est obligatoire.", started: "Merci ! Votre conversation a commencé.", error: "Une erreur est survenue. Réessayez.",
         consent: "J'accepte", message: "Écrivez un message…", sendMessage: "Envoyer"},
    de: {title: "Chat", close: "Chat schließen", send: "Unterhaltung starten", offline: "Wir sind gerade offline. Bitte später erneut versuchen.",
         required: "Dieses Feld ist erforderlich.", started: "Danke! Ihre Unterhaltung hat begonnen.", error: "Etwas ist schiefgelaufen. Bitte erneut versuchen.",
         consent: "Ich stimme zu", message: "Nachricht schreiben…", sendMessage: "Senden"}
  };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k]; else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  window.__chatWidgetUI = function (ctx) {
    var cfg = ctx.config, storeKey = "chat-widget:" + ctx.key;
    var t = function (name) {
      var lang = cfg.locale && cfg.locale !== "auto" ? cfg.locale : ctx.locale();
      return (STRINGS[lang] || STRINGS.en)[name];
    };
    var primary = (cfg.colors && cfg.colors.primary) || "#2d5bd7", onPrimary = (cfg.colors && cfg.colors.text) || "#fff";
    var off = cfg.offset || {x: 20, y: 20};
    var dark = ".panel{background:#111827;color:#f3f4f6}.bubble{background:#1f2937}input,select,textarea{background:#1f2937;color:#f3f4f6;border-color:#4b5563}";
    var themeCss = cfg.theme === "dark" ? dark : cfg.theme === "light" ? "" : "@media (prefers-color-scheme:dark){" + dark + "}";
    var style = el("style", {text:
      ".panel{all:initial;position:fixed;bottom:" + ((+off.y || 0) + 68) + "px;" + (cfg.position === "left" ? "left" : "right") + ":" + (+off.x || 0) + "px;width:370px;max-width:calc(100vw - 24px);" +
      "height:560px;max-height:calc(100vh - 110px);display:flex;flex-direction:column;border-radius:14px;overflow:hidden;" +
      "font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#111827;background:#fff;box-shadow:0 12px 40px rgba(0,0,0,.25)}" +
      ".panel[hidden]{display:none}header{display:flex;align-items:center;justify-content:space-between;padding:14px 16px;background:" + primary + ";color:" + onPrimary + "}" +
      "h2{all:unset;font-weight:600;font-size:16px}.x{all:unset;cursor:pointer;font-size:22px;line-height:1;padding:4px 8px;border-radius:6px}" +
      ".x:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible{outline:3px solid " + primary + ";outline-offset:2px}" +
      ".body{flex:1;overflow:auto;padding:16px}.bubble{background:#f3f4f6;border-radius:12px;padding:10px 12px;margin:0 0 12px;white-space:pre-wrap}" +
      "label{display:block;font-weight:600;margin:10px 0 4px}input,select,textarea{box-sizing:border-box;width:100%;font:inherit;padding:8px 10px;border:1px solid #9ca3af;border-radius:8px;background:#fff;color:#111827}" +
      "input[type=checkbox]{width:auto;margin-right:6px}.check{display:flex;align-items:center;font-weight:400}" +
      ".err{color:#b42318;font-size:13px;margin:4px 0 0}.send{all:unset;box-sizing:border-box;cursor:pointer;display:block;width:100%;text-align:center;margin-top:14px;padding:10px;border-radius:8px;background:" + primary + ";color:" + onPrimary + ";font-weight:600}" +
      ".mine{background:" + primary + ";color:" + onPrimary + ";margin-left:32px}.chips{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 12px}" +
      ".chip{all:unset;cursor:pointer;border:1px solid " + primary + ";color:inherit;border-radius:14px;padding:4px 10px;font-size:13px}" +
      ".composer{display:flex;gap:6px;padding:10px;border-top:1px solid #e5e7eb}.composer textarea{flex:1;resize:none}" +
      ".composer button{all:unset;cursor:pointer;padding:0 12px;border-radius:8px;background:" + primary + ";color:" + onPrimary + "}" +
      themeCss + ".brand{font-size:12px;text-align:center;padding:6px;opacity:.7}" +
      "@media (max-width:480px){.panel{inset:0;width:100%;max-width:none;height:100%;max-height:none;border-radius:0}}" +
      "@media (prefers-reduced-motion:no-preference){.panel{animation:pop .16s ease-out}@keyframes pop{from{opacity:0;transform:translateY(8px)}}}"});
    var title = el("h2", {id: "cw-title", text: cfg.bot_name || t("title")});
    if (/^data:image\/(png|jpeg|gif|webp);base64,/.test(cfg.avatar || "")) {
      title.insertBefore(el("img", {src: cfg.avatar, alt: "", width: "28", height: "28",
        style: "border-radius:50%;vertical-align:middle;margin-right:8px;object-fit:cover"}), title.firstChild);
    }
    var closeBtn = el("button", {"class": "x", type: "button", "aria-label": t("close"), text: "×"});
    var body = el("div", {"class": "body", "aria-live": "polite"});
    var brand = cfg.branding === false ? null : el("p", {"class": "brand", text: "Powered by Chatbot platform"});
    var panel = el("div", {"class": "panel", role: "dialog", "aria-modal": "true", "aria-labelledby": "cw-title", hidden: ""},
      [el("header", {}, [title, closeBtn]), body, brand]);
    ctx.root.appendChild(style);
    if (cfg.custom_css) ctx.root.appendChild(el("style", {text: cfg.custom_css}));
    if (cfg.preview_phone) ctx.root.appendChild(el("style", {text: ".panel{width:360px;height:min(640px,calc(100vh - 110px));border:8px solid #111;border-radius:28px}"}));  // the tenant's own CSS, inside the widget only
    ctx.root.appendChild(panel);
    closeBtn.addEventListener("click", function () { ctx.close(); });
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); ctx.close(); return; }
      if (e.key !== "Tab") return;
      var items = panel.querySelectorAll("button,input,select,textarea,a[href]");
      if (!items.length) return;
      var first = items[0], last = items[items.length - 1], active = ctx.root.activeElement;
      if (e.shiftKey && active === first) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && active === last) { e.preventDefault(); first.focus(); }
    });

    // Escape closes the chat even when focus wandered outside it (e.g. a click on the page).
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !panel.hidden) ctx.close();
    });

    var session = null;
    try { session = JSON.parse(localStorage.getItem(storeKey) || "null"); } catch (e) { session = null; }

    function request(method, path, data, retried) {
      var headers = {"Content-Type": "application/json"};
      if (session && session.token) headers.Authorization = "Bearer " + session.token;
      return fetch(ctx.api + path, {method: method, headers: headers, credentials: "omit",
        body: data ? JSON.stringify(data) : undefined}).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (json) { return {ok: r.ok, status: r.status, json: json}; });
      }).then(function (res) {
        // The server no longer accepts this visitor's token: start afresh once.
        if (res.status === 401 && !retried && path !== "/session") {
          forget();
          return ensureSession().then(function () { return request(method, path, data, true); });
        }
        return res;
      });
    }
    function forget() { session = null; try { localStorage.removeItem(storeKey); } catch (e) { /* private mode */ } }
    function remember(s) { session = s; try { localStorage.setItem(storeKey, JSON.stringify(s)); } catch (e) { /* private mode */ } }
    function ensureSession() {
      var left = session && session.token ? new Date(session.expires_at) - new Date() : 0;
      if (left > 7 * 864e5) return Promise.resolve(session);
      if (left > 0) {  // renew in the last week, keeping the same visitor and history
        return request("POST", "/session/renew", {}, true).then(function (res) {
          if (res.ok) { remember(Object.assign({}, session, res.json)); return session; }
          forget(); return ensureSession();
        });
      }
      return request("POST", "/session", {page_url: location.href.slice(0, 2000), referrer: document.referrer.slice(0, 2000), locale: ctx.locale()})
        .then(function (res) { if (!res.ok) throw new Error("session"); remember(res.json); return session; });
    }

    function say(text) { body.appendChild(el("p", {"class": "bubble", text: text})); }

    function renderPrechat() {
      var form = el("form", {novalidate: ""});
      var fields = (cfg.prechat && cfg.prechat.fields) || [], started = Date.now();
      var inputs = {};
      fields.forEach(function (f) {
        var id = "cw-" + f.key, input;
        if (f.kind === "checkbox") {
          input = el("input", {id: id, type: "checkbox", name: f.key});
          form.appendChild(el("label", {"class": "check", "for": id}, [input, document.createTextNode(f.label)]));
        } else {
          form.appendChild(el("label", {"for": id, text: f.label + (f.required ? " *" : "")}));
          if (f.kind === "select") {
            input = el("select", {id: id, name: f.key}, [el("option", {value: "", text: ""})].concat(
              f.options.map(function (o) { return el("option", {value: o, text: o}); })));
          } else if (f.kind === "message") {
            input = el("textarea", {id: id, name: f.key, rows: "3", placeholder: f.placeholder || ""});
          } else {
            var type = {email: "email", phone: "tel"}[f.kind] || "text";
            input = el("input", {id: id, name: f.key, type: type, placeholder: f.placeholder || "",
              autocomplete: {name: "name", email: "email", phone: "tel", country: "country"}[f.kind] || "off"});
          }
          form.appendChild(input);
        }
        if (f.required) input.setAttribute("aria-required", "true");
        var err = el("p", {"class": "err", id: id + "-err", hidden: ""});
        input.setAttribute("aria-describedby", id + "-err");
        form.appendChild(err);
        inputs[f.key] = {input: input, err: err, field: f};
      });
      var consent = cfg.prechat && cfg.prechat.consent, consentBox = null, consentErr = null;
      if (consent) {
        consentBox = el("input", {id: "cw-consent", type: "checkbox"});
        var text = el("span", {text: consent.text + " "});
        if (consent.url) text.appendChild(el("a", {href: consent.url, target: "_blank", rel: "noopener noreferrer", text: "↗"}));
        form.appendChild(el("label", {"class": "check", "for": "cw-consent"}, [consentBox, text]));
        consentErr = el("p", {"class": "err", hidden: ""});
        form.appendChild(consentErr);
      }
      var honeypot = el("input", {name: "website", tabindex: "-1", autocomplete: "off", "aria-hidden": "true",
        style: "position:absolute;left:-9999px;width:1px;height:1px"});
      form.appendChild(honeypot);
      var submit = el("button", {"class": "send", type: "submit", text: t("send")});
      form.appendChild(submit);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var answers = {};
        Object.keys(inputs).forEach(function (k) {
          var i = inputs[k];
          i.err.hidden = true; i.input.removeAttribute("aria-invalid");
          if (i.field.kind === "checkbox") answers[k] = i.input.checked; else if (i.input.value.trim()) answers[k] = i.input.value.trim();
        });
        if (cfg.preview) { say("Preview: visitors' answers are sent from here."); return; }
        submit.disabled = true;
        ensureSession().then(function () {
          return request("POST", "/prechat", {answers: answers, consent: consentBox ? consentBox.checked : false,
            website: honeypot.value, elapsed_ms: Date.now() - started});
        }).then(function (res) {
          submit.disabled = false;
          if (res.ok) { session.prechat_required = false; remember(session); return startConversation(); }
          var errors = (res.json && res.json.errors) || {}, firstBad = null;
          Object.keys(errors).forEach(function (k) {
            var target = k === "consent" ? {err: consentErr, input: consentBox} : inputs[k];
            if (!target || !target.err) return;
            target.err.textContent = errors[k][0].message; target.err.hidden = false;
            target.input.setAttribute("aria-invalid", "true");
            firstBad = firstBad || target.input;
          });
          if (firstBad) firstBad.focus(); else say(t("error"));
        }).catch(function () { submit.disabled = false; say(t("error")); });
      });
      body.appendChild(form);
      var firstInput = form.querySelector("input,select,textarea");
      if (firstInput) firstInput.focus();
    }

    function startConversation() {
      body.textContent = "";
      return request("POST", "/conversations", {}).then(function (res) {
        if (!res.ok) throw new Error("conversation");
        session.conversation_id = res.json.id; remember(session);
        ctx.emit("message", {type: "conversation_started", conversation_id: res.json.id});
        return renderChat();
      }).catch(function () { say(t("error")); });
    }

    var composer = null;
    function bubble(message) {
      body.appendChild(el("p", {"class": "bubble" + (message.role === "visitor" ? " mine" : ""), text: message.text}));
      body.scrollTop = body.scrollHeight;
    }

    function send(text) {
      text = (text || "").trim();
      if (!text) return Promise.resolve();
      var id = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
      var chips = body.querySelector(".chips");
      if (chips) chips.remove();
      return request("POST", "/conversations/" + session.conversation_id + "/messages", {text: text, client_message_id: id})
        .then(function (res) {
          if (!res.ok) { say((res.json && res.json.errors && res.json.errors.text && res.json.errors.text[0].message) || t("error")); return; }
          bubble(res.json);
          ctx.emit("message", {type: "sent", message: res.json});
        }).catch(function () { say(t("error")); });
    }

    function renderChat() {
      body.textContent = "";
      if (cfg.open_now === false && cfg.offline_message) say(cfg.offline_message);
      if (cfg.greeting) say(cfg.greeting);
      return request("GET", "/conversations/" + session.conversation_id + "/messages").then(function (res) {
        var messages = (res.ok && res.json.messages) || [];
        messages.forEach(bubble);
        var questions = (cfg.suggested_questions || []).slice(0, 4);
        if (!messages.length && questions.length) {
          body.appendChild(el("div", {"class": "chips", role: "group", "aria-label": t("title")}, questions.map(function (q) {
            var chip = el("button", {"class": "chip", type: "button", text: q});
            chip.addEventListener("click", function () { send(q); });
            return chip;
          })));
        }
        if (!composer) {
          var input = el("textarea", {rows: "2", "aria-label": t("message"), placeholder: t("message")});
          var button = el("button", {type: "submit", text: t("sendMessage")});
          composer = el("form", {"class": "composer"}, [input, button]);
          composer.addEventListener("submit", function (e) { e.preventDefault(); var v = input.value; input.value = ""; send(v); });
          input.addEventListener("keydown", function (e) {
            if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); composer.requestSubmit(); }
          });
          panel.insertBefore(composer, brand);
        }
        composer.querySelector("textarea").focus();
      }).catch(function () { say(t("error")); });
    }

    function render() {
      body.textContent = "";
      if (cfg.available === false) { say(t("offline")); closeBtn.focus(); return; }
      if (cfg.preview) {  // builder preview: show what visitors will see, send nothing
        if (cfg.open_now === false && cfg.offline_message) say(cfg.offline_message);
        if (cfg.greeting) say(cfg.greeting);
        if (cfg.prechat && cfg.prechat.enabled) { renderPrechat(); }
        return;
      }
      if (cfg.open_now === false && cfg.offline_message) say(cfg.offline_message);
      ensureSession().then(function () {
        if (session.conversation_id) return renderChat();
        if (cfg.greeting) say(cfg.greeting);
        if (cfg.prechat && cfg.prechat.enabled && session.prechat_required !== false) renderPrechat();
        else startConversation();
      }).catch(function () { say(t("error")); closeBtn.focus(); });
    }

    var rendered = false;
    return {
      show: function () { panel.hidden = false; if (!rendered) { rendered = true; render(); } else closeBtn.focus(); },
      hide: function () { panel.hidden = true; },
      call: function (name, args) {
        if (name === "identify") {
          ensureSession().then(function () { return request("POST", "/identify", args[0] || {}); })
            .then(function (res) {
              if (!res.ok) return;
              var next = Object.assign({}, session, res.json);
              if (res.json.visitor_id !== session.visitor_id) delete next.conversation_id;  // now another visitor's history
              remember(next);
            });
        }
      }
    };
  };
})();
