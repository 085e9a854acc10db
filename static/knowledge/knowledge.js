/* Knowledge dashboard: progressive enhancement only; every form works without it.
 *
 * - tabs for the add-source panels (without JS the panels are simply stacked);
 * - a drop zone for uploads: dropped files go into the file input and the form is sent;
 * - "Add another question" for the Q&A editor;
 * - the sources' status and progress update themselves: while any source is queued or
 *   processing, the status endpoint is polled every 2 s and the rows are updated in place.
 */
(function () {
  "use strict";

  var POLL_MS = 2000;
  var ACTIVE = { queued: true, processing: true };

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

  // --- status polling -------------------------------------------------------------------
  function initStatus() {
    var table = document.querySelector("[data-sources][data-status-url]");
    if (!table) return;
    var url = table.getAttribute("data-status-url");
    var announcer = document.querySelector("[data-announcer]");
    var timer = null;
    var failures = 0;

    function part(row, role) {
      return row.querySelector('[data-role="' + role + '"]');
    }

    function update(row, state) {
      var before = row.getAttribute("data-status");
      row.setAttribute("data-status", state.status);
      var badge = part(row, "badge");
      if (badge) {
        badge.textContent = state.status_label;
        badge.className = "badge status-" + state.status;
      }
      var active = !!ACTIVE[state.status];
      var progress = part(row, "progress");
      if (progress) progress.hidden = !active;
      var bar = part(row, "bar");
      var text = part(row, "progress-text");
      if (bar) {
        if (state.progress_total > 0) {
          bar.max = state.progress_total;
          bar.value = Math.min(state.progress_done, state.progress_total);
        } else {
          bar.removeAttribute("value"); // indeterminate until the total is known
        }
      }
      if (text) {
        text.textContent = state.progress_total > 0
          ? state.progress_done + " / " + state.progress_total
          : "starting…";
      }
      var error = part(row, "error");
      if (error) {
        error.textContent = state.error || "";
        error.hidden = !state.error;
      }
      var synced = part(row, "synced");
      if (synced) synced.textContent = state.last_synced || "never";
      var report = part(row, "report");
      if (report) report.textContent = state.report || "";
      var retry = part(row, "retry");
      if (retry) {
        var syncable = retry.getAttribute("data-syncable") === "1";
        retry.hidden = active || (state.status === "ready" && !syncable);
        var label = part(retry, "retry-label");
        if (label) label.textContent = state.status === "failed" ? "Retry" : "Sync now";
      }
      if (announcer && before !== state.status && !active) {
        announcer.textContent = "“" + (row.getAttribute("data-title") || "Source") + "” is " +
          state.status_label.toLowerCase() + ".";
      }
    }

    function anyActive() {
      return Array.prototype.some.call(table.querySelectorAll("tr[data-source-id]"), function (row) {
        return !!ACTIVE[row.getAttribute("data-status")];
      });
    }

    function schedule() {
      if (timer === null && anyActive()) timer = window.setTimeout(poll, POLL_MS);
    }

    function poll() {
      timer = null;
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (!response.ok || type.indexOf("json") === -1) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (data) {
          failures = 0;
          (data.sources || []).forEach(function (state) {
            var row = table.querySelector('tr[data-source-id="' + state.id + '"]');
            if (row) update(row, state);
          });
          schedule(); // stops by itself once no source is queued or processing
        })
        .catch(function () {
          // A hiccup: try a few more times, more slowly; signed out or gone: stop (a reload
          // starts again).
          failures += 1;
          if (failures < 5) timer = window.setTimeout(poll, POLL_MS * (failures + 1));
        });
    }

    schedule();
  }

  function init() {
    initTabs();
    initDropzone();
    initQa();
    initStatus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
