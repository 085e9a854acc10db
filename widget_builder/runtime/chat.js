/* Chat widget UI, loaded by loader.js when the visitor first opens the widget.
   Renders inside the loader's Shadow DOM: the host page's CSS cannot reach it, ours cannot leak. */
(function () {
  "use strict";
  var STRINGS = {
    en: {convs: "Your conversations", backChat: "Back to the conversation", newConv: "New conversation", moreConvs: "Show more",
         confirm: "Confirm", confirmed: "Confirmed", sent: "Sent", declined: "Cancelled", expired: "This request has expired. Ask again if you still want it.", optional: "optional",
         noConvs: "No conversations yet.", onDate: "Conversation on %s", you: "You: %s", unread: "%s unread", endedTag: "Ended",
         rename: "Rename", renameX: "Rename “%s”", del: "Delete", deleteX: "Delete “%s”", deleteQ: "Delete “%s” and all its messages for good?",
         cancel: "Cancel", save: "Save", titleLabel: "Conversation title", renamed: "Renamed to %s", deleted: "Conversation deleted.",
         title: "Chat", close: "Close chat", send: "Start the conversation", offline: "We are offline right now. Please try again later.",
         required: "This field is required.", started: "Thanks! Your conversation has started.", error: "Something went wrong. Please try again.",
         consent: "I agree", message: "Write a message…", sendMessage: "Send", fileRemoved: "%s (removed)", fileRead: "Read by the bot", fileUnread: "The bot could not read it",
         typing: "%s is typing…", bot: "Assistant", tooFast: "You're sending messages too fast. Please wait a moment.",
         up: "Helpful", down: "Not helpful", why: "What went wrong? (optional)", fbThanks: "Thanks for your feedback!",
         sources: "Sources", page: "p.", rows: "rows", more: "More options", transcript: "Email me the transcript", sentTo: "Sent to %s",
         end: "End chat", rateQ: "How was this conversation?", rate: "Rate %s out of 5", note: "Anything else? (optional)",
         submit: "Submit", thanks: "Thanks for your rating!", again: "Start a new conversation", human: "Talk to a person",
         attach: "Attach a file", tooBig: "Files can be at most %s MB.", ended: "This conversation has ended.",
         seen: "Seen", leave: "Leave a message", email: "Your email", yourMsg: "Your message",
         nobody: "Nobody is available right now. Leave your email and we'll reply by email.", emailed: "Thanks, we'll email you at %s"},
    es: {convs: "Tus conversaciones", backChat: "Volver a la conversación", newConv: "Nueva conversación", moreConvs: "Mostrar más",
         confirm: "Confirmar", confirmed: "Confirmado", sent: "Enviado", declined: "Cancelado", expired: "Esta solicitud ha caducado. Vuelve a pedirlo si aún lo quieres.", optional: "opcional",
         noConvs: "Aún no hay conversaciones.", onDate: "Conversación del %s", you: "Tú: %s", unread: "%s sin leer", endedTag: "Finalizada",
         rename: "Renombrar", renameX: "Renombrar «%s»", del: "Eliminar", deleteX: "Eliminar «%s»", deleteQ: "¿Eliminar «%s» y todos sus mensajes para siempre?",
         cancel: "Cancelar", save: "Guardar", titleLabel: "Título de la conversación", renamed: "Nuevo nombre: %s", deleted: "Conversación eliminada.",
         title: "Chat", close: "Cerrar chat", send: "Iniciar la conversación", offline: "Ahora no estamos disponibles. Inténtalo más tarde.",
         required: "Este campo es obligatorio.", started: "¡Gracias! Tu conversación ha comenzado.", error: "Algo salió mal. Inténtalo de nuevo.",
         consent: "Acepto", message: "Escribe un mensaje…", sendMessage: "Enviar", fileRemoved: "%s (eliminado)", fileRead: "Leído por el asistente", fileUnread: "El asistente no pudo leerlo",
         typing: "%s está escribiendo…", bot: "Asistente", tooFast: "Estás enviando mensajes demasiado rápido. Espera un momento.",
         up: "Útil", down: "No es útil", why: "¿Qué salió mal? (opcional)", fbThanks: "¡Gracias por tu opinión!",
         sources: "Fuentes", page: "pág.", rows: "filas", more: "Más opciones", transcript: "Enviarme la transcripción por correo", sentTo: "Enviado a %s",
         end: "Finalizar chat", rateQ: "¿Qué tal fue esta conversación?", rate: "Valorar con %s de 5", note: "¿Algo más? (opcional)",
         submit: "Enviar", thanks: "¡Gracias por tu valoración!", again: "Iniciar una nueva conversación", human: "Hablar con una persona",
         attach: "Adjuntar un archivo", tooBig: "Los archivos pueden tener como máximo %s MB.", ended: "Esta conversación ha terminado.",
         seen: "Visto", leave: "Dejar un mensaje", email: "Tu correo electrónico", yourMsg: "Tu mensaje",
         nobody: "No hay nadie disponible ahora. Deja tu correo y te responderemos por correo.", emailed: "Gracias, te escribiremos a %s"},
    fr: {convs: "Vos conversations", backChat: "Retour à la conversation", newConv: "Nouvelle conversation", moreConvs: "Afficher plus",
         confirm: "Confirmer", confirmed: "Confirmé", sent: "Envoyé", declined: "Annulé", expired: "Cette demande a expiré. Redemandez-le si vous le souhaitez toujours.", optional: "facultatif",
         noConvs: "Aucune conversation pour l'instant.", onDate: "Conversation du %s", you: "Vous : %s", unread: "%s non lu(s)", endedTag: "Terminée",
         rename: "Renommer", renameX: "Renommer « %s »", del: "Supprimer", deleteX: "Supprimer « %s »", deleteQ: "Supprimer « %s » et tous ses messages définitivement ?",
         cancel: "Annuler", save: "Enregistrer", titleLabel: "Titre de la conversation", renamed: "Renommée : %s", deleted: "Conversation supprimée.",
         title: "Chat", close: "Fermer le chat", send: "Démarrer la conversation", offline: "Nous sommes hors ligne. Réessayez plus tard.",
         required: "Ce champ est obligatoire.", started: "Merci ! Votre conversation a commencé.", error: "Une erreur est survenue. Réessayez.",
         consent: "J'accepte", message: "Écrivez un message…", sendMessage: "Envoyer", fileRemoved: "%s (supprimé)", fileRead: "Lu par l'assistant", fileUnread: "L'assistant n'a pas pu le lire",
         typing: "%s est en train d'écrire…", bot: "Assistant", tooFast: "Vous envoyez des messages trop vite. Patientez un instant.",
         up: "Utile", down: "Pas utile", why: "Qu'est-ce qui n'allait pas ? (facultatif)", fbThanks: "Merci pour votre avis !",
         sources: "Sources", page: "p.", rows: "lignes", more: "Plus d'options", transcript: "M'envoyer la transcription par e-mail", sentTo: "Envoyé à %s",
         end: "Terminer le chat", rateQ: "Comment s'est passée cette conversation ?", rate: "Noter %s sur 5", note: "Autre chose ? (facultatif)",
         submit: "Envoyer", thanks: "Merci pour votre note !", again: "Démarrer une nouvelle conversation", human: "Parler à une personne",
         attach: "Joindre un fichier", tooBig: "Les fichiers sont limités à %s Mo.", ended: "Cette conversation est terminée.",
         seen: "Vu", leave: "Laisser un message", email: "Votre e-mail", yourMsg: "Votre message",
         nobody: "Personne n'est disponible pour le moment. Laissez votre e-mail et nous vous répondrons par e-mail.", emailed: "Merci, nous vous écrirons à %s"},
    de: {convs: "Ihre Unterhaltungen", backChat: "Zurück zur Unterhaltung", newConv: "Neue Unterhaltung", moreConvs: "Mehr anzeigen",
         confirm: "Bestätigen", confirmed: "Bestätigt", sent: "Gesendet", declined: "Abgebrochen", expired: "Diese Anfrage ist abgelaufen. Fragen Sie bitte erneut.", optional: "optional",
         noConvs: "Noch keine Unterhaltungen.", onDate: "Unterhaltung vom %s", you: "Sie: %s", unread: "%s ungelesen", endedTag: "Beendet",
         rename: "Umbenennen", renameX: "„%s“ umbenennen", del: "Löschen", deleteX: "„%s“ löschen", deleteQ: "„%s“ und alle Nachrichten endgültig löschen?",
         cancel: "Abbrechen", save: "Speichern", titleLabel: "Titel der Unterhaltung", renamed: "Umbenannt in %s", deleted: "Unterhaltung gelöscht.",
         title: "Chat", close: "Chat schließen", send: "Unterhaltung starten", offline: "Wir sind gerade offline. Bitte später erneut versuchen.",
         required: "Dieses Feld ist erforderlich.", started: "Danke! Ihre Unterhaltung hat begonnen.", error: "Etwas ist schiefgelaufen. Bitte erneut versuchen.",
         consent: "Ich stimme zu", message: "Nachricht schreiben…", sendMessage: "Senden", fileRemoved: "%s (entfernt)", fileRead: "Vom Assistenten gelesen", fileUnread: "Der Assistent konnte sie nicht lesen",
         typing: "%s schreibt…", bot: "Assistent", tooFast: "Sie senden Nachrichten zu schnell. Bitte warten Sie einen Moment.",
         up: "Hilfreich", down: "Nicht hilfreich", why: "Was war nicht gut? (optional)", fbThanks: "Danke für Ihr Feedback!",
         sources: "Quellen", page: "S.", rows: "Zeilen", more: "Weitere Optionen", transcript: "Verlauf per E-Mail senden", sentTo: "Gesendet an %s",
         end: "Chat beenden", rateQ: "Wie war diese Unterhaltung?", rate: "Mit %s von 5 bewerten", note: "Noch etwas? (optional)",
         submit: "Absenden", thanks: "Danke für Ihre Bewertung!", again: "Neue Unterhaltung starten", human: "Mit einem Menschen sprechen",
         attach: "Datei anhängen", tooBig: "Dateien dürfen höchstens %s MB groß sein.", ended: "Diese Unterhaltung ist beendet.",
         seen: "Gesehen", leave: "Nachricht hinterlassen", email: "Ihre E-Mail-Adresse", yourMsg: "Ihre Nachricht",
         nobody: "Gerade ist niemand erreichbar. Hinterlassen Sie Ihre E-Mail-Adresse, wir antworten per E-Mail.", emailed: "Danke, wir schreiben Ihnen an %s"}
  };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k]; else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function tx(s) { return document.createTextNode(s); }
  function safeUrl(u) { return /^(https?:|mailto:)/i.test(u || ""); }
  function link(href, text) { return el("a", {href: href, target: "_blank", rel: "noopener noreferrer nofollow", text: text}); }

  /* Markdown for bot and agent messages, an allow-list by construction: only the elements
     made below, text only through text nodes; the one attribute taken from the text is a
     vetted http(s)/mailto href. Images become their alt text (nothing remote ever loads). */
  var INLINE = /`([^`]+)`|!\[([^\]]*)\]\([^)]*\)|\[([^\]]+)\]\(([^)\s]*)[^)]*\)|\*\*(.+?)\*\*|\*([^*\s](?:[^*]*[^*\s])?)\*|(^|\W)_([^_\s](?:[^_]*[^_\s])?)_(?!\w)|\[(\d{1,3})\]/g;
  function inline(parent, s) {
    var re = new RegExp(INLINE.source, "g"), last = 0, m, node;
    while ((m = re.exec(s))) {
      parent.appendChild(tx(s.slice(last, m.index) + (m[7] || "")));
      last = re.lastIndex;
      if (m[1] != null) node = el("code", {text: m[1]});
      else if (m[2] != null) node = tx(m[2]);
      else if (m[3] != null) { node = safeUrl(m[4]) ? link(m[4], "") : el("span"); inline(node, m[3]); }
      else if (m[5] != null) { node = el("strong"); inline(node, m[5]); }
      else if (m[9] == null) { node = el("em"); inline(node, m[6] || m[8]); }
      else node = el("span", {"class": "cite", text: "[" + m[9] + "]"});
      parent.appendChild(node);
    }
    parent.appendChild(tx(s.slice(last)));
    return parent;
  }
  function md(text) {
    var out = document.createDocumentFragment(), lines = String(text || "").replace(/\r\n?/g, "\n").split("\n");
    var para = null, list = null, i = 0, m, line, code;
    while (i < lines.length) {
      line = lines[i++];
      if (/^\s*```/.test(line)) {
        code = [];
        while (i < lines.length && !/^\s*```/.test(lines[i])) code.push(lines[i++]);
        i++;
        out.appendChild(el("pre", {}, [el("code", {text: code.join("\n")})]));
        para = list = null;
      } else if (!line.trim()) {
        para = list = null;
      } else if ((m = /^#{1,6}\s+(.*)$/.exec(line))) {
        out.appendChild(el("p", {}, [inline(el("strong"), m[1])]));
        para = list = null;
      } else if ((m = /^\s*(?:([-*+])|\d{1,3}[.)])\s+(.*)$/.exec(line))) {
        var tag = m[1] ? "UL" : "OL";
        if (!list || list.tagName !== tag) out.appendChild(list = el(tag));
        list.appendChild(inline(el("li"), m[2]));
        para = null;
      } else {
        if (para) para.appendChild(el("br")); else out.appendChild(para = el("p"));
        inline(para, line);
        list = null;
      }
    }
    return out;
  }
  function size(n) { return n < 1024 ? n + " B" : n < 1048576 ? Math.round(n / 1024) + " KB" : (n / 1048576).toFixed(1) + " MB"; }
  var KINDS = {image: "image/png,image/jpeg,image/gif,image/webp", pdf: "application/pdf", text: "text/plain,.txt,.csv,.tsv,.json,.md,.markdown"};

  window.__chatWidgetUI = function (ctx) {
    var cfg = ctx.config, storeKey = "chat-widget:" + ctx.key;
    var t = function (name, arg) {
      var lang = cfg.locale && cfg.locale !== "auto" ? cfg.locale : ctx.locale();
      return ((STRINGS[lang] || STRINGS.en)[name] || STRINGS.en[name]).replace("%s", function () { return String(arg); });
    };
    var primary = (cfg.colors && cfg.colors.primary) || "#2d5bd7", onPrimary = (cfg.colors && cfg.colors.text) || "#fff";
    var off = cfg.offset || {x: 20, y: 20};
    var dark = ".panel{background:#111827;color:#f3f4f6}.card{background:#111827;color:#f3f4f6;border-color:#4b5563}.bubble:not(.mine),.typing,.menu{background:#1f2937;color:#f3f4f6}input,select,textarea{background:#1f2937;color:#f3f4f6;border-color:#4b5563}";
    var themeCss = cfg.theme === "dark" ? dark : cfg.theme === "light" ? "" : "@media (prefers-color-scheme:dark){" + dark + "}";
    var style = el("style", {text:
      "[hidden]{display:none!important}" +
      ".panel{all:initial;position:fixed;bottom:" + ((+off.y || 0) + 68) + "px;" + (cfg.position === "left" ? "left" : "right") + ":" + (+off.x || 0) + "px;width:370px;max-width:calc(100vw - 24px);" +
      "height:560px;max-height:calc(100vh - 110px);display:flex;flex-direction:column;border-radius:14px;overflow:hidden;" +
      "font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#111827;background:#fff;box-shadow:0 12px 40px rgba(0,0,0,.25)}" +
      "header{position:relative;display:flex;align-items:center;justify-content:space-between;padding:14px 16px;background:" + primary + ";color:" + onPrimary + "}" +
      "h2{all:unset;font-weight:600;font-size:16px}.x{all:unset;cursor:pointer;font-size:22px;line-height:1;padding:4px 8px;border-radius:6px}" +
      ".x:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible,a:focus-visible{outline:3px solid " + primary + ";outline-offset:2px}" +
      ".body{flex:1;overflow:auto;padding:16px}.bubble{background:#f3f4f6;border-radius:12px;padding:10px 12px;margin:0 0 12px;white-space:pre-wrap;overflow-wrap:anywhere}" +
      "label{display:block;font-weight:600;margin:10px 0 4px}input,select,textarea{box-sizing:border-box;width:100%;font:inherit;padding:8px 10px;border:1px solid #9ca3af;border-radius:8px;background:#fff;color:#111827}" +
      "input[type=checkbox]{width:auto;margin-right:6px}.check{display:flex;align-items:center;font-weight:400}" +
      ".err{color:#b42318;font-size:13px;margin:4px 0 0}.send{all:unset;box-sizing:border-box;cursor:pointer;display:block;width:100%;text-align:center;margin-top:14px;padding:10px;border-radius:8px;background:" + primary + ";color:" + onPrimary + ";font-weight:600}" +
      ".mine{background:" + primary + ";color:" + onPrimary + ";margin-left:32px}.chips{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 12px}" +
      ".chip{all:unset;cursor:pointer;border:1px solid " + primary + ";color:inherit;border-radius:14px;padding:4px 10px;font-size:13px}" +
      ".composer{display:flex;gap:6px;padding:10px;border-top:1px solid #e5e7eb}.composer textarea{flex:1;resize:none}" +
      ".composer button{all:unset;cursor:pointer;padding:0 12px;border-radius:8px;background:" + primary + ";color:" + onPrimary + "}.composer .b{background:none;color:inherit;font-size:18px;padding:0 4px}" +
      ".md{white-space:normal}.md p,.md ul,.md ol,.md pre{margin:0 0 6px}.md>:last-child{margin-bottom:0}.md ul,.md ol{padding-left:20px}.md a{color:inherit}" +
      "pre{white-space:pre-wrap;background:rgba(0,0,0,.07);padding:8px;border-radius:6px}code{font:13px ui-monospace,Menlo,Consolas,monospace;background:rgba(0,0,0,.07);border-radius:4px;padding:0 3px}pre code{background:none;padding:0}" +
      ".cite{font-size:.7em;vertical-align:super;line-height:0;opacity:.75}.msg{margin:0 0 12px}.msg>.bubble{margin:0}" +
      ".sys{text-align:center;font-size:12px;opacity:.7;margin:0 0 12px}.src{font-size:12px;margin:4px 4px 0;opacity:.85}.src>*{display:block;color:inherit}" +
      ".b{all:unset;box-sizing:border-box;cursor:pointer;border-radius:6px;padding:2px 6px}.b[aria-pressed=true]{background:rgba(127,127,127,.25)}" +
      ".fb{display:flex;flex-wrap:wrap;gap:4px;margin:4px 0 0;font-size:13px}.fb form{display:flex;gap:4px;width:100%}.fb input{padding:4px 8px}.file{display:block;text-decoration:underline}.file.removed{text-decoration:none;opacity:.7;cursor:default}" +
      ".chip{display:inline-block;margin:2px 0 0;padding:0 8px;border:1px solid currentColor;border-radius:10px;font-size:12px;opacity:.85}.chip.bad{border-style:dashed}.why{display:block;font-size:12px;opacity:.85}" +
      ".human{display:inline-block;margin-top:6px}.menu{position:absolute;right:8px;top:100%;z-index:1;display:flex;flex-direction:column;background:#fff;color:#111827;border-radius:8px;padding:4px;box-shadow:0 6px 20px rgba(0,0,0,.2)}.menu .b{padding:8px 12px}" +
      ".typing{display:inline-flex;align-items:center;gap:4px;padding:12px 14px;border-radius:12px;background:#f3f4f6;margin:0 0 12px}.typing span{width:7px;height:7px;border-radius:50%;background:currentColor;opacity:.35}" +
      ".csat{padding:10px 14px;border-top:1px solid #e5e7eb}.csat p{margin:0 0 8px;font-weight:600}.stars{display:flex;gap:6px;margin:0 0 8px}.stars .b{flex:1;text-align:center;padding:6px 0;border:1px solid #9ca3af}" +
      ".who{display:block;font-size:12px;opacity:.75;margin:0 4px 2px}.typing .who{margin:0}.seen{text-align:right;font-size:11px;opacity:.7;margin:-8px 4px 12px}" +
      ".stars .b[aria-pressed=true]{background:" + primary + ";color:" + onPrimary + "}" +
      ".card{border:1px solid #d1d5db;border-radius:12px;padding:12px;margin:8px 0 0;background:#fff;color:#111827}.card-t{font-weight:600;margin:0 0 8px}" +
      ".card dl{margin:0 0 4px}.card dt{font-size:12px;opacity:.75}.card dd{margin:0 0 8px;overflow-wrap:anywhere}.card label{margin:8px 0 4px}.card .check{margin-top:10px}" +
      ".hint{font-size:12px;opacity:.75;margin:2px 0 0}.opt{font-weight:400;opacity:.75}.acts{display:flex;flex-wrap:wrap;gap:8px;margin-top:12px}.acts .send{flex:1 1 120px;margin:0}" +
      ".ghost{all:unset;box-sizing:border-box;cursor:pointer;flex:1 1 120px;text-align:center;padding:9px;border-radius:8px;border:1px solid #9ca3af}.acts button:disabled{opacity:.6;cursor:default}" +
      ".state{font-size:13px;font-weight:600;margin:8px 0 0}.card .state:first-child{margin-top:0}" +
      conversationsCss(primary, onPrimary) + themeCss + ".brand{font-size:12px;text-align:center;padding:6px;opacity:.7}" +
      "@media (max-width:480px){.panel{inset:0;width:100%;max-width:none;height:100%;max-height:none;border-radius:0}}" +
      "@media (prefers-reduced-motion:no-preference){.panel{animation:pop .16s ease-out}@keyframes pop{from{opacity:0;transform:translateY(8px)}}" +
      ".typing span{animation:dot 1.2s infinite}.typing span:nth-child(2){animation-delay:.2s}.typing span:nth-child(3){animation-delay:.4s}@keyframes dot{40%{opacity:1}}}"});
    var title = el("h2", {id: "cw-title", text: cfg.bot_name || t("title")});
    if (/^data:image\/(png|jpeg|gif|webp);base64,/.test(cfg.avatar || "")) {
      title.insertBefore(el("img", {src: cfg.avatar, alt: "", width: "28", height: "28",
        style: "border-radius:50%;vertical-align:middle;margin-right:8px;object-fit:cover"}), title.firstChild);
    }
    var closeBtn = el("button", {"class": "x", type: "button", "aria-label": t("close"), text: "×"});
    var listBtn = el("button", {"class": "x", type: "button", "aria-label": t("convs"), title: t("convs"), hidden: "", text: "☰"});
    var menuBtn = el("button", {"class": "x", type: "button", "aria-label": t("more"), "aria-haspopup": "true", "aria-expanded": "false", hidden: "", text: "⋯"});
    var menu = el("div", {"class": "menu", role: "menu", hidden: ""});
    var body = el("div", {"class": "body", "aria-live": "polite"});
    var listEl = el("div", {"class": "body convs", hidden: ""});
    var brand = cfg.branding === false ? null : el("p", {"class": "brand", text: "Powered by Chatbot platform"});
    var titleText = title.lastChild, baseTitle = titleText.nodeValue;
    var panel = el("div", {"class": "panel", role: "dialog", "aria-modal": "true", "aria-labelledby": "cw-title", hidden: ""},
      [el("header", {}, [title, el("div", {"class": "tools"}, [listBtn, menuBtn, closeBtn]), menu]), body, listEl, brand]);
    ctx.root.appendChild(style);
    if (cfg.custom_css) ctx.root.appendChild(el("style", {text: cfg.custom_css}));
    if (ctx.fullPage) ctx.root.appendChild(el("style", {text: ".panel{inset:0;width:100%;max-width:none;height:100%;max-height:none;border-radius:0}"}));
    if (cfg.preview_phone) ctx.root.appendChild(el("style", {text: ".panel{width:360px;height:min(640px,calc(100vh - 110px));border:8px solid #111;border-radius:28px}"}));  // the tenant's own CSS, inside the widget only
    ctx.root.appendChild(panel);
    closeBtn.addEventListener("click", function () { ctx.close(); });
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); ctx.close(); return; }
      if (e.key !== "Tab") return;
      var items = Array.prototype.filter.call(panel.querySelectorAll("button,input,select,textarea,a[href]"),
        function (n) { return !n.disabled && n.getClientRects().length; });
      if (!items.length) return;
      var first = items[0], last = items[items.length - 1], active = ctx.root.activeElement;
      if (e.shiftKey && active === first) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && active === last) { e.preventDefault(); first.focus(); }
    });

    // Escape closes the chat even when focus wandered outside it (e.g. a click on the page).
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !panel.hidden) ctx.close();
    });

    // The header menu: transcript by email, end the chat. Arrow keys move, Escape closes it.
    function menuShow(open) {
      menu.hidden = !open; menuBtn.setAttribute("aria-expanded", String(open));
      if (open) menu.querySelector("button:not([hidden])").focus();
    }
    function menuItem(name, fn) {
      var b = el("button", {"class": "b", type: "button", role: "menuitem", text: t(name)});
      b.addEventListener("click", function () { menuShow(false); menuBtn.focus(); fn(); });
      menu.appendChild(b);
      return b;
    }
    menuBtn.addEventListener("click", function () { menuShow(menu.hidden); });
    menu.addEventListener("keydown", function (e) {
      var items = Array.prototype.slice.call(menu.querySelectorAll("button:not([hidden])")), i = items.indexOf(ctx.root.activeElement);
      if (e.key === "Escape" || e.key === "Tab") {
        if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); }
        menuShow(false); menuBtn.focus();
      } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault(); items[(i + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length].focus();
      }
    });
    panel.addEventListener("click", function (e) {
      if (!menu.hidden && !menu.contains(e.target) && e.target !== menuBtn) menuShow(false);
    });

    var session = null;
    try { session = JSON.parse(localStorage.getItem(storeKey) || "null"); } catch (e) { session = null; }

    // Every call carries the visitor's bearer token, never cookies.
    function api(method, path, data, accept, retried, signal) {
      var headers = {}, form = typeof FormData !== "undefined" && data instanceof FormData;
      if (!form) headers["Content-Type"] = "application/json";  // a FormData body sets its own
      if (accept) headers.Accept = accept;
      if (session && session.token) headers.Authorization = "Bearer " + session.token;
      return fetch(ctx.api + path, {method: method, headers: headers, credentials: "omit", signal: signal,
        body: form ? data : data ? JSON.stringify(data) : undefined}).then(function (r) {
        // The server no longer accepts this visitor's token: start afresh once.
        if (r.status === 401 && !retried && path !== "/session") {
          forget();
          return ensureSession().then(function () { return api(method, path, data, accept, true); });
        }
        return r;
      });
    }
    function parse(r) {
      return r.json().catch(function () { return {}; }).then(function (json) { return {ok: r.ok, status: r.status, json: json}; });
    }
    function request(method, path, data, retried) { return api(method, path, data, null, retried).then(parse); }
    // What a problem response (RFC 9457) says: the first field's message, else the detail.
    function problem(res, fast) {
      var j = res.json || {}, errs = j.errors || {}, k = Object.keys(errs)[0];
      if (fast && res.status === 429) return t("tooFast");
      return (k && errs[k][0] && errs[k][0].message) || j.detail || t("error");
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

    function scroll() { body.scrollTop = body.scrollHeight; }
    function say(text) { body.appendChild(el("p", {"class": "bubble", text: text})); scroll(); }
    function note(text) { body.appendChild(el("p", {"class": "sys", text: text})); scroll(); }

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

    // --- the conversation ----------------------------------------------------------------
    var composer = null, input = null, clip = null, picker = null, footer = null;
    // lastSeq: the newest message shown. cursor: the number up to which every message has been
    // shown: a list or a live stream moves it, not our own send's stream, which can show a
    // newer message (ours, the bot's) while an agent's older one is still on its way.
    var seen = {}, lastSeq = 0, cursor = 0, asked = false, status = "bot", files = {kinds: [], max_mb: 5};
    var busy = false, pollGen = 0, streamEl = null, streamText = "";
    var who = el("small", {"class": "who", hidden: ""});
    var typingEl = el("div", {"class": "typing", role: "status", "aria-label": t("typing", cfg.bot_name || t("bot"))},
      [who, el("span"), el("span"), el("span")]);
    var humanItem = menuItem("human", function () { askHuman(); });
    humanItem.hidden = true;
    menuItem("transcript", function () { act("/transcript", function (j) { note(t("sentTo", j.sent_to)); }); });
    var endItem = menuItem("end", function () { act("/close", state); });

    function path(rest) { return "/conversations/" + session.conversation_id + rest; }
    function act(rest, ok) {
      return request("POST", path(rest), {}).then(function (res) { if (res.ok) ok(res.json); else say(problem(res)); })
        .catch(function () { say(t("error")); });
    }

    function startConversation() {
      body.textContent = "";
      return request("POST", "/conversations", {}).then(function (res) {
        if (!res.ok) throw new Error("conversation");
        session.conversation_id = res.json.id; remember(session);
        ctx.emit("message", {type: "conversation_started", conversation_id: res.json.id});
        return renderChat(res.json);
      }).catch(function () { say(t("error")); });
    }

    // What the server says about the conversation: status, rating, attachments allowed.
    function state(s) {
      if (s.attachments) {
        files = s.attachments;
        var accept = (files.kinds || []).map(function (k) { return KINDS[k]; }).filter(Boolean);
        if (clip) { clip.hidden = !accept.length; picker.accept = accept.join(","); }
      }
      var before = status;
      if (s.status) status = s.status;
      if (status !== "closed" && footer) { footer.remove(); footer = null; composer.hidden = !listEl.hidden; }  // reopened
      if (s.agent_name) agentName = s.agent_name;  // who types (the server's note says who joined)
      // While a person has the conversation, the header says who.
      titleText.nodeValue = status === "agent" && agentName ? agentName : baseTitle;
      if (before === "bot" && status === "waiting" && humanOn && !humanAvail) offlineForm();
      endItem.hidden = status === "closed";
      humanShow();
      if (status !== "bot") Array.prototype.forEach.call(body.querySelectorAll(".human"), function (b) { b.remove(); });
      if (status === "closed") ended(s.csat_score);
    }

    // One stored message, once: the highest seq rendered is where polling resumes.
    function show(m) {
      if (!m || seen[m.seq] || m.role === "note") return null;
      seen[m.seq] = m; lastSeq = Math.max(lastSeq, m.seq);
      var node, atts = (m.attachments || []).map(fileButton), cites = m.citations || [];
      if (m.role === "visitor") { asked = true; node = el("p", {"class": "bubble mine"}, [tx(m.text)].concat(atts)); }
      else if (m.role === "system") node = el("p", {"class": "sys", text: m.text});
      else {
        node = el("div", {"class": "msg"}, [m.author_name && m.role === "agent" ? el("small", {"class": "who", text: m.author_name}) : null,
          el("div", {"class": "bubble md"}, [md(m.text)].concat(atts))]);
        if (cites.length) {
          node.appendChild(el("div", {"class": "src"}, [el("span", {text: t("sources")})].concat(cites.map(function (c) {
            var label = "[" + c.n + "] " + (c.title || c.file || "");
            return /^https?:\/\//i.test(c.url || "") ? link(c.url, label) : el("span", {text: label +
              (c.file && c.file !== c.title ? " · " + c.file : "") + (c.page ? " " + t("page") + " " + c.page : "") +
              (c.rows && c.rows.length ? " · " + t("rows") + " " + c.rows.slice(0, 5).join(", ") + (c.rows.length > 5 ? " …" : "") : "")});
          }))));
        }
        if (m.card) node.appendChild(card(m));
        if (m.role === "bot") node.appendChild(thumbs(m));
      }
      node.setAttribute("data-seq", m.seq);
      var next = null;  // a live message may come before an older one it overtook
      Array.prototype.some.call(body.querySelectorAll("[data-seq]"), function (n) { return +n.getAttribute("data-seq") > m.seq && (next = n); });
      body.insertBefore(node, next);
      if (!next && typingEl.parentNode) body.appendChild(typingEl);
      scroll();
      return node;
    }

    // An AI action waiting for the visitor: a confirmation (the inputs in plain words,
    // Confirm / Cancel) or a form (the inputs asked). Answered once; the bot's answer streams.
    function card(m) {
      var c = m.card, attrs = {"class": "card", role: "group", "aria-labelledby": "cw-card-" + c.id};
      if (c.kind === "form") attrs.novalidate = "";
      var box = el(c.kind === "form" ? "form" : "div", attrs, [el("p", {"class": "card-t", id: "cw-card-" + c.id, text: c.title})]);
      if (c.kind !== "form") box.appendChild(el("dl", {}, [].concat.apply([], (c.summary || []).map(function (s) { return [el("dt", {text: s.label}), el("dd", {text: s.value})]; }))));
      if (c.state !== "pending") {  // answered or expired: what it was, and how it ended
        var said = c.state === "confirmed" && c.kind === "form" ? "sent" : c.state;
        box.appendChild(el("p", {"class": "state", role: "status", text: t(said)}));
        return box;
      }
      var fields = {}, ok = el("button", {"class": "send", type: c.kind === "form" ? "submit" : "button", text: t(c.kind === "form" ? "sendMessage" : "confirm")});
      var no = el("button", {"class": "ghost", type: "button", text: t("cancel")});
      if (c.kind === "form") (c.fields || []).forEach(function (f) { fields[f.name] = cardField(box, c, f); });
      box.appendChild(el("div", {"class": "acts"}, [ok, no]));
      function settle(state) { c.state = state; box.replaceWith(card(m)); }
      function answer(decision, data) {
        if (busy) return;
        if (cfg.preview) { say("Preview: visitors' answers are sent from here."); return; }
        ok.disabled = no.disabled = true; busy = true;
        api("POST", path("/confirmations/" + c.id + "/" + decision), data, "text/event-stream").then(function (r) {
          if (!r.ok) return parse(r).then(function (res) {
            var code = res.json && res.json.code, errors = (res.json && res.json.errors) || {}, bad = null;
            ok.disabled = no.disabled = false;
            Object.keys(errors).forEach(function (k) {
              var f = fields[k];
              if (!f) return;
              f.err.textContent = errors[k][0].message; f.err.hidden = false; f.input.setAttribute("aria-invalid", "true"); bad = bad || f.input;
            });
            if (bad) return bad.focus();
            if (code === "confirmation_expired") settle("expired");
            else if (code === "confirmation_answered") {  // in another tab: show how it ended there
              request("GET", path("/messages?after=" + (m.seq - 1))).then(function (again) {
                var fresh = ((again.json && again.json.messages) || []).filter(function (x) { return x.seq === m.seq; })[0];
                if (fresh && fresh.card) { m.card = fresh.card; box.replaceWith(card(m)); }
              }).catch(function () { /* the message says it */ });
            }
            say(problem(res));
          });
          settle(decision === "cancel" ? "declined" : "confirmed");
          var fin = false, t0 = Date.now(), t1 = 0;
          return events(r, function (name, d) {
            if (name === "message") show(d);
            else if (name === "typing") typing(true);
            else if (name === "delta") { t1 = t1 || Date.now(); delta(d.text || ""); }
            else if (name === "done") { fin = true; done(d); if (t1) timing(d.message, t1 - t0, Date.now() - t0); }
            else if (name === "pending" || name === "reconnect") { fin = true; unstream(); poll(); }
          }).then(function () { if (!fin) throw new Error("cut"); });
        }).catch(function () { unstream(); typing(false); load().catch(function () {}); }).then(function () { busy = false; input.focus(); });
      }
      no.addEventListener("click", function () { answer("cancel"); });
      if (c.kind !== "form") ok.addEventListener("click", function () { answer("confirm"); });
      else box.addEventListener("submit", function (e) {
        e.preventDefault();
        var args = {}, bad = null;
        Object.keys(fields).forEach(function (k) {
          var f = fields[k], v = f.value();
          f.err.hidden = true; f.input.removeAttribute("aria-invalid");
          if (v === undefined && f.field.required) { f.err.textContent = t("required"); f.err.hidden = false; f.input.setAttribute("aria-invalid", "true"); bad = bad || f.input; }
          else if (v !== undefined) args[k] = v;
        });
        if (bad) return bad.focus();
        answer("submit", {arguments: args});
      });
      return box;
    }
    // One input of an action's form: its label (required marked), hint and error line.
    function cardField(form, c, f) {
      var id = "cw-f-" + c.id.slice(0, 8) + "-" + f.name.replace(/[^\w-]/g, "_"), input, opts = f.options || [];
      var err = el("p", {"class": "err", id: id + "-err", hidden: ""}), hint = f.hint ? el("p", {"class": "hint", id: id + "-hint", text: f.hint}) : null;
      var mark = f.required ? " *" : "";
      if (f.type === "boolean") {
        input = el("input", {id: id, type: "checkbox", name: f.name});
        form.appendChild(el("label", {"class": "check", "for": id}, [input, tx(f.label + mark)]));
      } else {
        form.appendChild(el("label", {"for": id}, [tx(f.label + mark), f.required ? null : el("span", {"class": "opt", text: " (" + t("optional") + ")"})]));
        if (f.type === "enum") {
          input = el("select", {id: id, name: f.name}, [el("option", {value: "", text: ""})].concat(
            opts.map(function (o, i) { return el("option", {value: String(i), text: String(o)}); })));
        } else {
          input = el("input", {id: id, name: f.name, type: f.type === "string" ? "text" : "number", autocomplete: "off"});
          if (f.type === "integer") input.setAttribute("step", "1"); else if (f.type === "number") input.setAttribute("step", "any");
        }
        form.appendChild(input);
      }
      if (f.required) input.setAttribute("aria-required", "true");
      input.setAttribute("aria-describedby", (hint ? id + "-hint " : "") + id + "-err");
      if (hint) form.appendChild(hint);
      form.appendChild(err);
      return {input: input, err: err, field: f, value: function () {
        if (f.type === "boolean") return input.checked;
        var v = input.value.trim();
        if (!v) return undefined;
        if (f.type === "enum") return opts[+v];
        if (f.type === "string") return v;
        var n = Number(v);
        return isNaN(n) ? v : n;
      }};
    }

    function thumbs(m) {
      var row = el("div", {"class": "fb"}), extra = null;
      var up = el("button", {"class": "b", type: "button", "aria-label": t("up"), title: t("up"), text: "👍"});
      var down = el("button", {"class": "b", type: "button", "aria-label": t("down"), title: t("down"), text: "👎"});
      function press(v) { up.setAttribute("aria-pressed", String(v === 1)); down.setAttribute("aria-pressed", String(v === -1)); }
      function rate(v, comment) {
        var before = m.feedback;
        m.feedback = v; press(v);
        return request("POST", path("/messages/" + m.seq + "/feedback"), {rating: v > 0 ? "up" : "down", comment: comment || ""})
          .then(function (res) { if (!res.ok) { m.feedback = before; press(before); } return res.ok; });
      }
      press(m.feedback);
      up.addEventListener("click", function () { if (extra) extra.remove(); extra = null; rate(1); });
      down.addEventListener("click", function () {
        rate(-1);
        if (extra) return;
        var why = el("input", {type: "text", maxlength: "1000", "aria-label": t("why"), placeholder: t("why")});
        var form = extra = el("form", {}, [why, el("button", {"class": "b", type: "submit", text: t("sendMessage")})]);
        form.addEventListener("submit", function (e) {
          e.preventDefault();
          rate(-1, why.value.trim()).then(function (ok) {
            if (ok && extra === form) { extra = el("span", {role: "status", text: t("fbThanks")}); form.replaceWith(extra); down.focus(); }
          });
        });
        row.appendChild(form);
        why.focus();
      });
      row.appendChild(up); row.appendChild(down);
      return row;
    }

    function offerHuman(node) {
      var b = el("button", {"class": "chip human", type: "button", text: t("human")});
      b.addEventListener("click", function () { askHuman(b); });
      node.appendChild(b);
    }

    function typing(on, name) {
      if (!on) return typingEl.remove();
      who.textContent = name ? t("typing", name) : ""; who.hidden = !name;
      typingEl.setAttribute("aria-label", t("typing", name || cfg.bot_name || t("bot")));
      body.appendChild(typingEl); scroll();
    }
    function delta(text) {
      if (!streamEl) { typing(false); streamText = ""; body.appendChild(streamEl = el("div", {"class": "bubble md", "aria-busy": "true"})); }
      streamText += text;
      streamEl.replaceChildren(md(streamText));
      scroll();
    }
    function unstream() { if (streamEl) streamEl.remove(); streamEl = null; }
    function done(d) {
      unstream(); typing(false);
      var fresh = show(d.message), node = fresh || (d.message && body.querySelector("[data-seq='" + d.message.seq + "']"));
      if (node && d.handoff && status === "bot") offerHuman(node);
      if (fresh) ctx.emit("message", {type: "received", message: d.message});
    }

    // Server-sent events from a fetch body: "event: X\ndata: {json}\n\n", split anywhere.
    function events(r, on) {
      var buf = "", dec = new TextDecoder();
      function feed(chunk) {
        buf = (buf + chunk).replace(/\r\n/g, "\n");
        var i, name, data, json;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          name = "message"; data = [];
          buf.slice(0, i).split("\n").forEach(function (line) {
            var f = /^([^:]*):? ?(.*)$/.exec(line);
            if (f[1] === "event") name = f[2]; else if (f[1] === "data") data.push(f[2]);
          });
          buf = buf.slice(i + 2);
          try { json = JSON.parse(data.join("\n")); } catch (e) { json = null; }
          if (json) on(name, json);
        }
      }
      if (!r.body || !r.body.getReader) return r.text().then(function (s) { feed(s + "\n\n"); });
      var reader = r.body.getReader();
      return (function pump() {
        return reader.read().then(function (x) {
          if (x.done) return feed(dec.decode() + "\n\n");
          feed(dec.decode(x.value, {stream: true}));
          return pump();
        });
      })();
    }

    function send(text) {
      text = (text || "").trim();
      if (!text || busy) return Promise.resolve();
      var id = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
      var chips = body.querySelector(".chips"), stored = false, fin = false, t0 = Date.now(), t1 = 0;
      if (chips) chips.remove();
      busy = true; typingStop();
      var conv = session.conversation_id;
      function here() { return session.conversation_id === conv; }
      function mine() { return stored || Object.keys(seen).some(function (k) { return seen[k].client_message_id === id; }); }
      function failed(message) { say(message); if (!mine() && !input.value) input.value = text; }  // keep what was not sent
      // A refusal (4xx) stored nothing; after a server error or a broken stream, look.
      function check() { return load().catch(function () { return null; }); }
      return api("POST", path("/messages"), {text: text, client_message_id: id}, "text/event-stream").then(function (r) {
        if (!r.ok) {
          return parse(r).then(function (res) {
            if (!here()) return;
            return (res.status >= 500 || res.status === 409 ? check() : Promise.resolve()).then(function () { failed(problem(res, true)); });
          });
        }
        return events(r, function (name, d) {
          if (!here()) return;
          if (name === "message") {
            show(d);
            if (d.client_message_id === id && !stored) { stored = true; ctx.emit("message", {type: "sent", message: d}); }
          } else if (name === "typing") typing(true);
          else if (name === "delta") { t1 = t1 || Date.now(); delta(d.text || ""); }
          else if (name === "done") { fin = true; done(d); if (t1) timing(d.message, t1 - t0, Date.now() - t0); }
          else if (name === "pending") { fin = true; poll(); }
          // The server is restarting: after "done", nothing to do; without it, a worker
          // finishes the answer and it comes as a message. No error either way.
          else if (name === "reconnect" && !fin) { fin = true; unstream(); poll(); }
        }).then(function () { if (!fin) throw new Error("cut"); });
      }).catch(function () {  // the stream broke: what was stored comes by polling
        if (!here()) return;
        unstream();
        return check().then(function (s) {
          if (!mine()) { typing(false); failed(t("error")); } else if (!s || awaiting(s)) poll(); else typing(false);
        });
      }).then(function () { busy = false; });
    }

    // How long a streamed answer took here, where the visitor is: reported for the analytics.
    function timing(m, first, full) {
      if (m && m.role === "bot") request("POST", path("/messages/" + m.seq + "/timing"), {first_token_ms: first, full_ms: full}).catch(function () {});
    }

    function load() {
      return request("GET", path("/messages?after=" + cursor)).then(function (res) {
        if (!res.ok) throw res;
        var list = res.json.messages || [];
        list.forEach(show);
        if (list.length) cursor = Math.max(cursor, list[list.length - 1].seq);
        state(res.json);
        return list.length >= 200 ? load() : res.json;
      });
    }
    // An answer is still coming (not for an upload, which gets none, nor one long given up).
    function awaiting(s) {
      var seq = s.awaiting_answer_after, m = seen[seq];
      return seq != null && !(m && ((m.attachments || []).length || Date.now() - Date.parse(m.created_at) > 6e5));
    }
    function poll() {
      var gen = ++pollGen, tries = 0;
      typing(true);
      (function tick() {
        setTimeout(function () {
          if (gen !== pollGen) return;
          load().then(awaiting, function () { return true; }).then(function (more) {
            if (gen !== pollGen) return;
            if (more && ++tries < 40) tick(); else typing(false);
          });
        }, 1500);
      })();
    }

    // --- live: agents' messages, typing and read receipts as they happen --------------------
    // A WebSocket first; when it cannot open twice (or the browser has none), server-sent
    // events read with fetch (the token in a header, never in a URL); when those cannot open
    // twice either, polling every 3 s. ctx.transport ("ws", "sse", "poll") forces one. Every
    // message is shown once, by seq; each (re)connection asks for what came after the cursor.
    var live = null, liveGen = 0, readSent = 0, typingOn = false, typingAt = 0, typingIdle = null, agentTimer = null;
    var agentName = "", seenEl = el("p", {"class": "seen", text: t("seen")});
    var humanOn = false, humanAvail = false, availTimer = null, offlineEl = null;

    function liveStop() { liveGen++; if (live) live.stop(); live = null; }
    function liveStart() {
      liveStop();
      var gen = liveGen, forced = /^(ws|sse|poll)$/.test(ctx.transport) ? ctx.transport : "", tries = 0, fails = 0;
      var mode = forced || (window.WebSocket ? "ws" : "sse"), sock = null, timer = null, ping = null, abort = null;
      var me = live = {};
      function alive() { return gen === liveGen; }
      function later(fn, ms) { clearTimeout(timer); timer = setTimeout(function () { if (alive()) fn(); }, ms); }
      function backoff(fn) { later(fn, [1, 2, 5, 10, 20, 30][Math.min(tries++, 5)] * (800 + Math.random() * 400)); }  // jittered
      function soon(fn) { later(fn, Math.random() * 500); }  // spread over the server's retry hint (500 ms)
      function fallback(next) { me.mode = mode = next; tries = fails = 0; run(); }
      function connected() { tries = fails = 0; readSent = 0; markRead(); }
      function run() { (mode === "ws" ? ws : mode === "sse" ? sse : poll3)(); }
      function ws() {
        var u = new URL(ctx.api), s, opened = false;
        try { s = sock = new WebSocket((u.protocol === "https:" ? "wss://" : "ws://") + u.host + "/ws/widget/v1/" + encodeURIComponent(ctx.key)); }
        catch (e) { return fallback("sse"); }
        var hang = setTimeout(function () { if (!opened) s.close(); }, 10000);
        s.onopen = function () {
          opened = true; clearTimeout(hang);
          s.send(JSON.stringify({type: "hello", token: session.token, conversation: session.conversation_id, after: cursor}));
          ping = setInterval(function () { me.send({type: "ping"}); }, 25000);
        };
        s.onmessage = function (e) {
          var f; try { f = JSON.parse(e.data); } catch (x) { return; }
          if (!alive()) return;
          if (f.type === "ready") connected();
          frame(f);
        };
        s.onclose = function (e) {
          clearInterval(ping); clearTimeout(hang);
          if (sock === s) sock = null;
          if (!alive() || (e.code > 4399 && e.code < 4500)) return;  // stopped, or refused (token, origin, conversation)
          // 1012: the server is restarting (a deploy): at once to another one, no back-off.
          if (opened && e.code === 1012) return soon(ws);
          // 1013: the server has no live channel now (Redis down): counted as not opened.
          if ((!opened || e.code === 1013) && ++fails >= 2 && !forced) return fallback("sse");
          backoff(ws);
        };
      }
      function sse() {
        var opened = false, restart = false;
        abort = window.AbortController ? new AbortController() : null;
        api("GET", path("/events?after=" + cursor), null, "text/event-stream", false, abort && abort.signal).then(function (r) {
          if (!r.ok || !/event-stream/.test(r.headers.get("Content-Type"))) throw r;
          opened = true; connected();
          return events(r, function (name, d) {
            if (name === "reconnect") restart = true;  // the server is restarting: at once, no back-off
            else if (alive()) frame(name === "message" ? {type: name, message: d.message || d} : Object.assign({}, d, {type: name}));
          });
        }).then(function () { if (restart) soon(sse); else later(sse, 300); }, function () {  // the server ends a stream now and then: go on
          if (!alive()) return;
          if (!opened && ++fails >= 2 && !forced) return fallback("poll");
          backoff(sse);
        });
      }
      function poll3() { load().then(markRead, function () { /* next time */ }).then(function () { later(poll3, 3000); }); }
      // Typing and read receipts: over the socket, else by POST; false when it could not go.
      me.send = function (f) {
        if (mode === "ws") { if (!sock || sock.readyState !== 1) return false; sock.send(JSON.stringify(f)); return true; }
        if (f.type !== "ping") request("POST", path("/" + f.type), f.type === "read" ? {seq: f.seq} : {typing: f.typing}).catch(function () { /* best effort */ });
        return true;
      };
      me.stop = function () { clearTimeout(timer); clearInterval(ping); if (sock) sock.close(1000); if (abort) abort.abort(); };
      run();
    }

    function frame(f) {
      var m = f.message;
      if (f.type === "message" && m) {
        cursor = Math.max(cursor, m.seq);  // a live stream sends every message after its start, in order
        if (m.role === "agent") agentTyping(false);
        if (show(m) && m.role !== "visitor") ctx.emit("message", {type: "received", message: m});
        markRead();
      } else if (f.type === "typing" && f.who === "agent") agentTyping(f.typing, f.name);
      else if (f.type === "read" && f.who === "agent") seenUpTo(f.seq);
      else if (f.type === "status" || f.type === "ready") { state(f); seenUpTo(f.agent_read_seq); }
    }
    function agentTyping(on, name) {
      clearTimeout(agentTimer);
      typing(on, name || agentName);
      if (on) agentTimer = setTimeout(function () { typing(false); }, 8000);  // in case "stopped" was lost
    }
    // "Seen" under the visitor's newest message the agent has read.
    function seenUpTo(n) {
      var last = null;
      Array.prototype.forEach.call(body.querySelectorAll(".mine[data-seq]"), function (b) { if (+b.getAttribute("data-seq") <= n) last = b; });
      if (last) last.after(seenEl);
    }
    // Read receipts, while the visitor can see the chat.
    function markRead() {
      var n = 0;
      Object.keys(seen).forEach(function (k) { if (seen[k].role === "agent") n = Math.max(n, +k); });
      if (n > readSent && live && !panel.hidden && listEl.hidden && document.visibilityState !== "hidden" && live.send({type: "read", seq: lastSeq})) readSent = n;
    }
    document.addEventListener("visibilitychange", markRead);
    // The visitor's typing, for agents: "typing" at most every 2 s, "stopped" after 3 s idle or on send.
    function typed() {
      clearTimeout(typingIdle);
      if (!input.value.trim()) return typingStop();
      if (live && Date.now() - typingAt > 2000) { typingAt = Date.now(); typingOn = true; live.send({type: "typing", typing: true}); }
      typingIdle = setTimeout(typingStop, 3000);
    }
    function typingStop() {
      clearTimeout(typingIdle);
      if (typingOn && live) live.send({type: "typing", typing: false});
      typingOn = false; typingAt = 0;
    }

    // A person: offered in the menu while one could answer (asked when the panel opens, then
    // every minute); when nobody can, an email for the reply instead. No endpoint: no item.
    function availability() {
      clearTimeout(availTimer);
      if (panel.hidden || humanOn === null || !session || !session.conversation_id) return;
      request("GET", "/availability").then(function (res) {
        if (res.status === 404) { humanOn = null; return humanShow(); }
        var h = (res.ok && res.json.human) || {};
        humanOn = !!h.enabled; humanAvail = !!h.available; humanShow();
      }).catch(function () { /* next time */ }).then(function () {
        if (humanOn !== null && !panel.hidden) availTimer = setTimeout(availability, 60000);
      });
    }
    function humanShow() {
      humanItem.hidden = !humanOn || status !== "bot" || !!footer;
      humanItem.textContent = t(humanAvail ? "human" : "leave");
    }
    function askHuman(b) {
      if (humanOn && !humanAvail) return offlineForm();
      if (b) b.disabled = true;
      act("/handoff", function (j) { (j.messages || []).forEach(show); state(j); input.focus(); }).then(function () { if (b) b.disabled = false; });
    }
    function offlineForm() {
      if (offlineEl) { if (offlineEl.isConnected) offlineEl.querySelector("input").focus(); return; }  // once per conversation
      var field = {}, submit = el("button", {"class": "send", type: "submit", text: t("sendMessage")});
      var form = offlineEl = el("form", {"class": "bubble md", novalidate: ""}, [el("p", {text: t("nobody")})]);
      [["email", "email"], ["message", "yourMsg"]].forEach(function (f) {
        var id = "cw-off-" + f[0], input = f[0] === "email" ? el("input", {id: id, type: "email", autocomplete: "email"}) : el("textarea", {id: id, rows: "3"});
        var err = el("p", {"class": "err", id: id + "-err", hidden: ""});
        input.setAttribute("aria-describedby", id + "-err");
        if (f[0] === "email") input.setAttribute("aria-required", "true");
        form.appendChild(el("label", {"for": id, text: t(f[1])}));
        form.appendChild(input); form.appendChild(err);
        field[f[0]] = {input: input, err: err};
      });
      form.appendChild(submit);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var email = field.email.input.value.trim(), bad = null;
        Object.keys(field).forEach(function (k) { field[k].err.hidden = true; field[k].input.removeAttribute("aria-invalid"); });
        submit.disabled = true;
        request("POST", path("/offline"), {email: email, message: field.message.input.value.trim()}).then(function (res) {
          submit.disabled = false;
          if (res.ok) { form.replaceWith(el("p", {"class": "bubble", role: "status", text: t("emailed", email)})); state(res.json); return input.focus(); }
          var errors = (res.json && res.json.errors) || {};
          Object.keys(errors).forEach(function (k) {
            var f = field[k];
            if (!f) return;
            f.err.textContent = errors[k][0].message; f.err.hidden = false;
            f.input.setAttribute("aria-invalid", "true"); bad = bad || f.input;
          });
          if (bad) bad.focus(); else say(problem(res));
        }).catch(function () { submit.disabled = false; say(t("error")); });
      });
      body.appendChild(form); scroll();
      field.email.input.focus();
    }

    function ended(score) {
      if (footer) return;
      pollGen++; unstream(); typing(false);
      composer.hidden = true;
      footer = el("div", {"class": "csat"});
      footer.hidden = !listEl.hidden;
      panel.insertBefore(footer, brand);
      if (score) thanks(t("ended")); else csat();
    }
    function thanks(text) {
      var again = el("button", {"class": "send", type: "button", text: t("again")});
      again.addEventListener("click", function () { again.disabled = true; startConversation().then(function () { again.disabled = false; }); });
      footer.replaceChildren(el("p", {role: "status", text: text}), again);
      again.focus();
    }
    function csat() {
      var score = 0, comment = el("input", {type: "text", maxlength: "1000", "aria-label": t("note"), placeholder: t("note")});
      var stars = [1, 2, 3, 4, 5].map(function (n) {
        var b = el("button", {"class": "b", type: "button", "aria-pressed": "false", "aria-label": t("rate", n), text: String(n)});
        b.addEventListener("click", function () {
          score = n;
          stars.forEach(function (s, i) { s.setAttribute("aria-pressed", String(i + 1 === n)); });
        });
        return b;
      });
      var submit = el("button", {"class": "send", type: "submit", text: t("submit")});
      var form = el("form", {}, [el("p", {id: "cw-rate", text: t("rateQ")}),
        el("div", {"class": "stars", role: "group", "aria-labelledby": "cw-rate"}, stars), comment, submit]);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        if (!score) { stars[0].focus(); return; }
        submit.disabled = true;
        request("POST", path("/rating"), {score: score, comment: comment.value.trim()}).then(function (res) {
          submit.disabled = false;
          if (res.ok) thanks(t("thanks")); else say(problem(res));
        }).catch(function () { submit.disabled = false; say(t("error")); });
      });
      footer.replaceChildren(form);
      stars[0].focus();
    }

    // Attachments: picked files go up as multipart; stored ones come down with the token.
    function upload(f) {
      if (f.size > files.max_mb * 1048576) { say(t("tooBig", files.max_mb)); return; }
      var data = new FormData();
      data.append("file", f);
      clip.disabled = true;
      api("POST", path("/attachments"), data).then(parse).then(function (res) {
        if (res.ok) show(res.json); else say(problem(res, true));
      }).catch(function () { say(t("error")); }).then(function () { clip.disabled = false; });
    }
    function fileButton(a) {
      if (a.removed) return el("span", {"class": "b file removed", text: "📎 " + t("fileRemoved").replace("%s", a.name)});
      var b = el("button", {"class": "b file", type: "button", text: "📎 " + a.name + " (" + size(a.size) + ")"}), read = a.context_status;
      b.addEventListener("click", function () {
        api("GET", path("/attachments/" + encodeURIComponent(a.id))).then(function (r) {
          if (!r.ok) throw new Error("download");
          return r.blob();
        }).then(function (blob) {
          var url = URL.createObjectURL(blob), save = el("a", {href: url, download: a.name, hidden: ""});
          body.appendChild(save); save.click(); save.remove();
          setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
        }).catch(function () { say(t("error")); });
      });
      // Read as this conversation's context by the bot, or why it could not be.
      return read ? el("span", {"class": "filebox"}, [b, el("span", {"class": "chip" + (read === "ready" ? "" : " bad"),
        text: t(read === "ready" ? "fileRead" : "fileUnread")}), read === "ready" ? null : el("small", {"class": "why", text: a.context_error})]) : b;
    }

    function buildComposer() {
      if (composer) { composer.hidden = false; return; }
      input = el("textarea", {rows: "2", "aria-label": t("message"), placeholder: t("message")});
      picker = el("input", {type: "file", hidden: "", tabindex: "-1"});
      clip = el("button", {"class": "b", type: "button", "aria-label": t("attach"), title: t("attach"), hidden: "", text: "📎"});
      composer = el("form", {"class": "composer"}, [picker, clip, input, el("button", {type: "submit", text: t("sendMessage")})]);
      clip.addEventListener("click", function () { picker.click(); });
      picker.addEventListener("change", function () { var f = picker.files[0]; picker.value = ""; if (f) upload(f); });
      composer.addEventListener("submit", function (e) { e.preventDefault(); if (busy) return; var v = input.value; input.value = ""; send(v); });
      input.addEventListener("input", typed);
      input.addEventListener("keydown", function (e) {
        if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); composer.requestSubmit(); }
      });
      panel.insertBefore(composer, brand);
    }

    // The conversation view: history (or the new conversation's first messages), then resume
    // polling when an answer is still being written.
    function renderChat(created) {
      body.textContent = "";
      seen = {}; lastSeq = cursor = 0; asked = false; status = "bot"; pollGen++; streamEl = null; offlineEl = null; readSent = 0;
      liveStop();
      if (footer) { footer.remove(); footer = null; }
      if (cfg.open_now === false && cfg.offline_message) say(cfg.offline_message);
      if (cfg.greeting) say(cfg.greeting);
      buildComposer();
      menuBtn.hidden = false; listBtn.hidden = !!cfg.preview; busy = false;
      var first = created ? Promise.resolve(created).then(function (s) { (s.messages || []).forEach(show); state(s); return s; }) : load();
      return first.then(function (s) {
        var questions = (cfg.suggested_questions || []).slice(0, 4);
        if (!asked && status === "bot" && questions.length) {
          body.appendChild(el("div", {"class": "chips", role: "group", "aria-label": t("title")}, questions.map(function (q) {
            var chip = el("button", {"class": "chip", type: "button", text: q});
            chip.addEventListener("click", function () { send(q); });
            return chip;
          })));
        }
        if (awaiting(s)) poll();
        if (!footer) input.focus();
        if (!cfg.preview) { liveStart(); availability(); }
      }, function (res) {
        if (res && res.status === 404) { delete session.conversation_id; remember(session); return startConversation(); }
        say(t("error"));
      });
    }

    // --- the visitor's conversations (conversations.js): a list view in place of the chat ----
    var convs = conversationList({
      el: el, t: t, root: listEl, problem: problem,
      lang: function () { return cfg.locale && cfg.locale !== "auto" ? cfg.locale : ctx.locale(); },
      request: function (method, p, data) { return request(method, p, data); },
      current: function () { return session && session.conversation_id; },
      open: function (id) {
        if (String(id) === String(session.conversation_id) && body.firstChild) return listShow(false);
        listShow(false, true);
        session.conversation_id = id; remember(session);
        return renderChat();
      },
      start: function () { listShow(false, true); return startConversation(); },
      deleted: function (id) {  // the open one deleted: nothing of it stays on screen
        if (String(id) !== String(session.conversation_id)) return;
        delete session.conversation_id; remember(session);
        liveStop(); pollGen++; unstream(); typing(false);
        body.textContent = "";
        if (footer) { footer.remove(); footer = null; }
      }
    });
    function listShow(open, quiet) {
      listEl.hidden = !open; body.hidden = open;
      if (composer) composer.hidden = open || !!footer;
      if (footer) footer.hidden = open;
      menuShow(false); menuBtn.hidden = open;
      titleText.nodeValue = !open && status === "agent" && agentName ? agentName : baseTitle;  // the list is no one's
      listBtn.setAttribute("aria-label", t(open ? "backChat" : "convs")); listBtn.title = t(open ? "backChat" : "convs");
      if (open) return convs.load();
      if (quiet) return;
      if (!session.conversation_id) return startConversation();  // the open one was deleted
      chatFocus(); markRead();
    }
    function chatFocus() { if (composer && !composer.hidden) input.focus(); else listBtn.focus(); }
    listBtn.addEventListener("click", function () { listShow(listEl.hidden); });

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
      var resume = ctx.resume;  // from an email link: that visitor, that conversation
      ctx.resume = "";
      (resume ? request("POST", "/session/resume", {resume: resume}, true).then(function (res) {
        if (res.ok && res.json.token) remember(res.json); else say(problem(res));
      }) : Promise.resolve()).then(ensureSession).then(function () {
        if (session.conversation_id) return renderChat();
        if (cfg.greeting) say(cfg.greeting);
        if (cfg.prechat && cfg.prechat.enabled && session.prechat_required !== false) renderPrechat();
        else startConversation();
      }).catch(function () { say(t("error")); closeBtn.focus(); });
    }

    var rendered = false;
    return {
      show: function () {
        panel.hidden = false;
        if (!rendered) { rendered = true; render(); } else { closeBtn.focus(); markRead(); availability(); }
      },
      hide: function () { panel.hidden = true; menuShow(false); clearTimeout(availTimer); },
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
