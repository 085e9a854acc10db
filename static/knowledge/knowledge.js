/* Knowledge dashboard: progressive enhancement only; every form works without it.
 *
 * - tabs for the add-source panels (without JS the panels are simply stacked);
 * - a drop zone for uploads: dropped files go into the file input and the form is sent;
 * - "Add another question" for the Q&A editor.
 *
 * The sources' status, progress and counts update themselves without any code here: the
 * server-rendered partial (templates/knowledge/_live.html) carries htmx's polling trigger
 * while something is processing, and comes back without it once nothing is.
 */
(function () {
  "use strict";

  // --- tabs ---------------------------------------------------------------------------
  function initTabs() {
    var nav = document.querySelector("[data-tabs]");
    if (!nav) return;
    var tabs = Array.prototype.slice.call(nav.querySelectorAll("[data-tab]"));
    var panels = {};
    document.querySelectorAll("[data-panel]").forEach(function (panel) {
      panels[panel.getAttribute("data-panel")] = panel;
      panel.setAttribute("role", "tabpanel");
    });
    nav.setAttribute("role", "tablist");

    function show(name, focus) {
      tabs.forEach(function (tab) {
        var selected = tab.getAttribute("data-tab") === name;
        tab.setAttribute("aria-selected", selected ? "true" : "false");
        tab.setAttribute("tabindex", selected ? "0" : "-1");
        if (selected && focus) tab.focus();
      });
      Object.keys(panels).forEach(function (key) {
        panels[key].hidden = key !== name;
      });
    }

    tabs.forEach(function (tab, index) {
      var name = tab.getAttribute("data-tab");
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", "add-" + name);
      tab.id = "tab-" + name;
      if (panels[name]) panels[name].setAttribute("aria-labelledby", tab.id);
      tab.addEventListener("click", function (event) {
        event.preventDefault();
        show(name, false);
        if (window.history && window.history.replaceState) {
          window.history.replaceState(null, "", "?add=" + encodeURIComponent(name) + "#add-source");
        }
      });
      tab.addEventListener("keydown", function (event) {
        var step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
        if (!step) return;
        event.preventDefault();
        var next = tabs[(index + step + tabs.length) % tabs.length];
        show(next.getAttribute("data-tab"), true);
      });
    });
    show(nav.getAttribute("data-active") || "file", false);
  }

  // --- drop zone ------------------------------------------------------------------------
  function initDropzone() {
    var zone = document.querySelector("[data-dropzone]");
    if (!zone) return;
    var form = zone.closest("form");
    var input = zone.querySelector("input[type=file]");
    var status = zone.querySelector("[data-dropzone-status]");
    if (!form || !input) return;
    var depth = 0;

    function hasFiles(event) {
      var types = event.dataTransfer && event.dataTransfer.types;
      return !!types && Array.prototype.indexOf.call(types, "Files") !== -1;
    }
    zone.addEventListener("dragenter", function (event) {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth += 1;
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragover", function (event) {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    zone.addEventListener("dragleave", function () {
      depth = Math.max(0, depth - 1);
      if (!depth) zone.classList.remove("dragging");
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      depth = 0;
      zone.classList.remove("dragging");
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) return;
      try {
        input.files = files;
      } catch (error) {
        if (status) status.textContent = "Your browser cannot take dropped files here: choose them with the button.";
        return;
      }
      if (status) status.textContent = "Uploading " + files.length + " file" + (files.length === 1 ? "" : "s") + "…";
      if (form.requestSubmit) form.requestSubmit();
      else form.submit();
    });
    input.addEventListener("change", function () {
      if (!status) return;
      var names = Array.prototype.map.call(input.files || [], function (file) { return file.name; });
      status.textContent = names.length ? "Chosen: " + names.join(", ") : "";
    });
  }

  // --- Q&A rows -------------------------------------------------------------------------
  function initQa() {
    document.querySelectorAll("[data-qa-add]").forEach(function (button) {
      var form = button.closest("form");
      var rows = form && form.querySelector("[data-qa-rows]");
      var template = form && form.querySelector("template[data-qa-template]");
      if (!rows || !template) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        var n = rows.querySelectorAll(".qa-row").length + 1;
        var html = template.innerHTML.replace(/__n__/g, String(n));
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var row = holder.firstElementChild;
        rows.appendChild(row);
        var question = row.querySelector("input");
        if (question) question.focus();
      });
    });
  }

  function init() {
    initTabs();
    initDropzone();
    initQa();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
