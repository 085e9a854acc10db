/* The design system's behaviour, for every page: the app shell's menu on phones, copy
   buttons, dismissible alerts and toasts, modals (<dialog>), the user and workspace menus,
   and confirmation of destructive forms. No inline handlers anywhere (the CSP): templates
   mark elements with data- attributes and this file wires them. */
(function () {
  "use strict";

  function on(root, event, selector, handler) {
    root.addEventListener(event, function (e) {
      var target = e.target instanceof Element ? e.target.closest(selector) : null;
      if (target && root.contains(target)) handler(e, target);
    });
  }

  /* --- the sidebar on screens <= 768 px ------------------------------------------ */
  var sidebar = document.getElementById("sidebar");
  var toggle = document.getElementById("menu-toggle");
  var backdrop = document.getElementById("sidebar-backdrop");
  function setMenu(open) {
    if (!sidebar || !toggle) return;
    sidebar.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", String(open));
    if (backdrop) backdrop.hidden = !open;
    if (open) {
      var first = sidebar.querySelector("a, button");
      if (first) first.focus();
    } else if (document.activeElement && sidebar.contains(document.activeElement)) {
      toggle.focus();
    }
  }
  if (toggle) toggle.addEventListener("click", function () { setMenu(!sidebar.classList.contains("open")); });
  on(document, "click", "[data-close-menu]", function () { setMenu(false); });
  if (backdrop) backdrop.addEventListener("click", function () { setMenu(false); });

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    if (sidebar && sidebar.classList.contains("open")) setMenu(false);
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.open = false;
      var summary = menu.querySelector("summary");
      if (summary && menu.contains(document.activeElement)) summary.focus();
    });
  });
  // A menu (<details>) closes when the click lands outside it.
  document.addEventListener("click", function (e) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(e.target)) menu.open = false;
    });
  });

  /* --- copy buttons: data-copy-target="id of the element whose text is copied" ----- */
  function announce(button, text) {
    var status = button.getAttribute("data-copy-status");
    var region = status ? document.getElementById(status) : null;
    var label = button.querySelector("[data-copy-label]");
    if (label) {
      var before = label.getAttribute("data-copy-label") || label.textContent;
      label.setAttribute("data-copy-label", before);
      label.textContent = text;
      window.setTimeout(function () { label.textContent = before; }, 2000);
    }
    if (region) region.textContent = text;
  }
  on(document, "click", "[data-copy-target]", function (e, button) {
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source) return;
    var text = "value" in source && source.value !== undefined ? source.value : source.textContent;
    var done = function () {
      announce(button, "Copied.");
      button.dispatchEvent(new CustomEvent("ui:copied", { bubbles: true }));
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text.trim()).then(done, function () { selectText(source); announce(button, "Press Ctrl+C to copy."); });
    } else {
      selectText(source);
      try { document.execCommand("copy"); done(); } catch (err) { announce(button, "Press Ctrl+C to copy."); }
    }
  });
  function selectText(element) {
    if (typeof element.select === "function") { element.select(); return; }
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  /* --- alerts and toasts ---------------------------------------------------------- */
  on(document, "click", "[data-dismiss]", function (e, button) {
    var alert = button.closest(".alert");
    if (alert) alert.remove();
  });
  // Success and info toasts leave after a while; warnings and errors stay until dismissed.
  document.querySelectorAll(".toasts .alert-success, .toasts .alert-info").forEach(function (toast) {
    window.setTimeout(function () { if (!toast.matches(":hover, :focus-within")) toast.remove(); }, 8000);
  });

  /* --- modals: data-open-modal="dialog id", data-close-modal inside it -------------- */
  on(document, "click", "[data-open-modal]", function (e, button) {
    var dialog = document.getElementById(button.getAttribute("data-open-modal"));
    if (dialog && typeof dialog.showModal === "function") { e.preventDefault(); dialog.showModal(); }
  });
  on(document, "click", "[data-close-modal]", function (e, button) {
    var dialog = button.closest("dialog");
    if (dialog) { e.preventDefault(); dialog.close(); }
  });

  /* --- destructive forms: data-confirm="question" ---------------------------------- */
  on(document, "submit", "form[data-confirm]", function (e, form) {
    if (!window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
  });
})();
