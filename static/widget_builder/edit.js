/* Widget builder: the live preview of unsaved settings and the embed snippet's copy button.
 *
 * The preview is the real widget (the loader from the public host, started with
 * data-preview-config), redrawn through ChatWidget.preview() from the form as people type;
 * it sends nothing. The view buttons (launcher, prechat form, chat, phone width) pick what
 * it shows, and the choice holds while the form is edited. Copying the snippet tells the
 * server once (the onboarding checklist's "copy the snippet" step): the URL comes from the
 * button's data-copied-url, the CSRF token from the form.
 */
(function () {
  "use strict";

  var form = document.getElementById("widget-form");
  if (!form) return;
  var view = null, timer = null;

  function json(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function value(name) {
    var el = form.elements[name];
    if (!el) return "";
    return el.type === "checkbox" ? el.checked : el.value;
  }

  function draft() {
    var fields = [];
    try { fields = JSON.parse(value("prechat_fields_json") || "[]"); } catch (e) { fields = []; }
    var cfg = {
      name: value("name"), bot_name: value("bot_name"), greeting: value("greeting"), position: value("position"),
      offset: {x: +value("offset_x") || 20, y: +value("offset_y") || 20}, theme: value("theme"),
      launcher_icon: value("launcher_icon"), locale: value("locale"), custom_css: value("custom_css"),
      branding: value("show_branding"), open_now: true,
      avatar: json("cw-avatar"), launcher_image: json("cw-launcher-image"),
      suggested_questions: value("suggested_questions_text").split("\n").filter(Boolean).slice(0, 4),
      colors: {primary: value("primary_color"), text: value("text_color")},
      prechat: {enabled: value("prechat_enabled"), fields: fields,
                consent: value("consent_text") ? {text: value("consent_text"), url: value("consent_url"), version: 0} : null}
    };
    if (view === "prechat") cfg.prechat.enabled = true;
    if (view === "chat") cfg.prechat.enabled = false;
    if (view === "phone") cfg.preview_phone = true;
    return cfg;
  }

  function widget() { return window.ChatWidget && window.ChatWidget.preview ? window.ChatWidget : null; }

  document.querySelectorAll("[data-view]").forEach(function (button) {
    button.addEventListener("click", function () {
      var chat = widget();
      if (!chat) return;
      clearTimeout(timer);  // a redraw still pending from typing would undo this choice
      view = button.getAttribute("data-view");
      chat.preview(draft());
      if (view === "closed") chat.close(); else chat.open();
    });
  });

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { var chat = widget(); if (chat) chat.preview(draft()); }, 150);
  });

  var copy = document.getElementById("copy-snippet");
  if (copy) {
    copy.addEventListener("click", function () {
      var text = document.getElementById("snippet").textContent;
      var status = document.getElementById("copy-status");
      (navigator.clipboard ? navigator.clipboard.writeText(text) : Promise.reject()).catch(function () {}).then(function () {
        status.textContent = "Copied.";
        fetch(copy.getAttribute("data-copied-url"), {
          method: "POST", credentials: "same-origin",
          headers: {"X-CSRFToken": form.elements.csrfmiddlewaretoken.value}
        });
      });
    });
  }
})();
