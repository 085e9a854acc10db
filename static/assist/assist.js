/* Agent assist in the inbox's conversation page: "Suggest reply" and "Rewrite" put text in
   the composer (never send it; "Undo" brings the previous text back), and the transcript
   shows visitors' messages in the agent's language with the original one click away.
   Text from the server is set with textContent only. Without JavaScript the buttons stay
   hidden and replies go out as written (docs/assist.md). */
(function () {
  "use strict";

  var tools = document.querySelector("[data-assist]");
  var composer = document.getElementById("composer");
  var transcript = document.getElementById("transcript");
  if (!tools || !composer) return;
  tools.hidden = false;

  var status = tools.querySelector("[data-assist-status]");
  var citations = tools.querySelector("[data-assist-citations]");
  var undoButton = tools.querySelector("[data-assist-undo]");
  var translateNote = tools.querySelector("[data-assist-translate]");
  var undo = [];

  function textarea() { return composer.querySelector("[data-composer-text]"); }
  function csrf() {
    var input = composer.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("assist-error", !!isError);
  }
  function busy(on) {
    tools.setAttribute("aria-busy", on ? "true" : "false");
    tools.querySelectorAll("button").forEach(function (b) { if (!b.hasAttribute("data-assist-undo")) b.disabled = on; });
  }
  function problem(response) {
    return response.json().then(function (body) { return body.detail || body.title || "Assist failed."; },
      function () { return "Assist failed (" + response.status + ")."; });
  }
  function post(url, data) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "Accept": "application/json" },
      body: data || new FormData(),
    });
  }
  function replaceDraft(text) {
    var area = textarea();
    undo.push(area.value);
    undoButton.hidden = false;
    area.value = text;
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }
  function showCitations(list) {
    citations.textContent = "";
    citations.hidden = !list.length;
    list.forEach(function (c) {
      var item = document.createElement("li");
      item.value = c.n;
      var chip = document.createElement("span");
      chip.className = "chip";
      var n = document.createElement("span");
      n.className = "chip-n";
      n.textContent = String(c.n);
      chip.appendChild(n);
      chip.appendChild(document.createTextNode(c.title || c.url || c.file || "Source"));
      item.appendChild(chip);
      citations.appendChild(item);
    });
  }
  function run(url, data, done) {
    busy(true);
    say("Working…");
    post(url, data).then(function (response) {
      if (!response.ok) return problem(response).then(function (detail) { say(detail, true); });
      return response.json().then(done);
    }).catch(function () { say("The server could not be reached. Try again.", true); })
      .then(function () { busy(false); });
  }

  tools.querySelector("[data-assist-suggest]").addEventListener("click", function () {
    run(tools.getAttribute("data-suggest-url"), null, function (body) {
      if (!body.text) {
        showCitations([]);
        return say("Nothing in the knowledge base matches the visitor's last message.", false);
      }
      replaceDraft(body.text);
      showCitations(body.citations || []);
      say(body.offline ? "Suggested by quoting the knowledge base (offline quality: no AI provider). Edit it before sending."
        : "Suggested from the knowledge base. Check and edit it before sending.", false);
    });
  });

  tools.querySelectorAll("[data-assist-rewrite]").forEach(function (button) {
    button.addEventListener("click", function () {
      var menu = button.closest("details");
      if (menu) menu.open = false;
      var text = textarea().value;
      if (!text.trim()) return say("Write a draft first, then rewrite it.", true);
      var data = new FormData();
      data.append("text", text);
      data.append("style", button.getAttribute("data-assist-rewrite"));
      run(tools.getAttribute("data-rewrite-url"), data, function (body) {
        replaceDraft(body.text);
        say(body.offline ? "Rewritten by simple rules (offline quality: no AI provider). Undo brings your text back."
          : "Rewritten. Undo brings your text back.", false);
      });
    });
  });

  undoButton.addEventListener("click", function () {
    if (!undo.length) return;
    textarea().value = undo.pop();
    undoButton.hidden = !undo.length;
    say("Your previous text is back.", false);
    textarea().focus();
  });

  document.body.addEventListener("inbox:sent", function () {
    undo = [];
    undoButton.hidden = true;
    showCitations([]);
    say("", false);
    if (translations) window.setTimeout(loadTranslations, 300);
  });

  /* --- translation ---------------------------------------------------------------- */
  var translations = tools.getAttribute("data-translations-url");
  var chatAction = composer.getAttribute("action");
  var polls = 0;
  var timer = null;

  function replyRoute(body) {
    var url = body.translates_replies ? body.reply_url : chatAction;
    if (composer.getAttribute("hx-post") !== url) {
      composer.setAttribute("action", url);
      composer.setAttribute("hx-post", url);
      if (window.htmx) window.htmx.process(composer);
    }
    translateNote.hidden = !body.translates_replies;
    translateNote.textContent = body.translates_replies
      ? "Translation is on: your reply is sent in " + body.visitor_language_name + " (you write in " + body.language_name + ")."
      : "";
  }

  function toggle(label, shown, hidden, showText, hideText) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn-link";
    button.textContent = showText;
    button.setAttribute("aria-expanded", "false");
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      hidden.hidden = !open;
      if (shown) shown.hidden = open;
      button.textContent = open ? hideText : showText;
    });
    label.appendChild(button);
  }

  function decorate(seq, row, body) {
    var item = document.getElementById("m" + seq);
    if (!item || item.getAttribute("data-translation") === row.state) return;
    var old = item.querySelector(".assist-translation");
    if (old) old.remove();
    item.setAttribute("data-translation", row.state);
    var bubble = item.querySelector(".bubble");
    if (!bubble || row.state === "same") return;
    var box = document.createElement("div");
    box.className = "assist-translation";
    var label = document.createElement("p");
    label.className = "muted small";
    box.appendChild(label);
    if (row.kind === "visitor" && row.state === "done") {
      var original = bubble.querySelector(".plain, .rendered");
      var translated = document.createElement("div");
      translated.className = "plain";
      translated.textContent = row.text;
      translated.lang = body.language;
      bubble.insertBefore(translated, original);
      original.hidden = true;
      label.textContent = "Translated to " + body.language_name + " · ";
      toggle(label, translated, original, "Show original", "Show translation");
    } else if (row.kind === "visitor") {
      label.textContent = "Not translated: " + (row.error || "the provider failed") + ".";
      label.classList.add("assist-error");
    } else if (row.state === "done") {
      var wrote = document.createElement("p");
      wrote.className = "plain";
      wrote.textContent = row.text;
      wrote.hidden = true;
      label.textContent = "Sent in " + row.sent_language_name + " · ";
      toggle(label, null, wrote, "Show what you wrote", "Hide what you wrote");
      box.appendChild(wrote);
    } else {
      label.textContent = "Sent as written, not translated: " + (row.error || "the provider failed") + ".";
      label.classList.add("assist-error");
    }
    bubble.appendChild(box);
  }

  function loadTranslations() {
    fetch(translations, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) return;
        replyRoute(body);
        if (!body.enabled) return;
        Object.keys(body.messages).forEach(function (seq) { decorate(seq, body.messages[seq], body); });
        window.clearTimeout(timer);
        if (body.pending.length && polls < 20) {
          polls += 1;
          timer = window.setTimeout(loadTranslations, 2500);
        }
      })
      .catch(function () {});
  }

  if (translations && transcript) {
    loadTranslations();
    // New messages arrive through inbox.js: look for their translations.
    new MutationObserver(function () { polls = 0; window.clearTimeout(timer); timer = window.setTimeout(loadTranslations, 600); })
      .observe(transcript, { childList: true });
  }
})();
