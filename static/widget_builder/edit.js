/* The visual widget builder: editors over the fields the server validates, and the live
 * preview.
 *
 * Progressive enhancement: every setting is an ordinary form field. The editors here
 * (colour swatches, suggested questions, business hours, the prechat form) read a field's
 * value, hide it, and write the same value back as people edit (JSON for the hours and
 * the prechat form, one question a line), so the server validates exactly what it always
 * did. Without this script the page still works with the plain fields. Errors the server
 * found on one row of an editor (#builder-errors) are shown on that row.
 *
 * The preview is the real widget (the loader from the public host, started with
 * data-preview-config), moved into the preview pane (#preview-stage, whose transform makes
 * it the widget's containing block) and redrawn through ChatWidget.preview() as people type;
 * it sends nothing. Copying the snippet (app.js copies) tells the server once: the
 * onboarding checklist's "copy the snippet" step.
 */
(function () {
  "use strict";

  var form = document.getElementById("widget-form");
  if (!form) return;
  var uid = 0;

  function $(id) { return document.getElementById(id); }
  function json(id) { var n = $(id); return n ? JSON.parse(n.textContent) : null; }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === false || v === null || v === undefined) return;
      if (k === "text") node.textContent = v;
      else if (k === "value") node.value = v;
      else if (k === "checked") node.checked = !!v;
      else node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }
  function icon(name) {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "icon"); svg.setAttribute("aria-hidden", "true");
    var use = document.createElementNS("http://www.w3.org/2000/svg", "use");
    var sprite = document.querySelector("svg.icon use");
    var base = sprite ? (sprite.getAttribute("href") || "").split("#")[0] : "";
    use.setAttribute("href", base + "#" + name);
    svg.appendChild(use);
    return svg;
  }
  function iconButton(name, label, extra) {
    return el("button", Object.assign({type: "button", "class": "btn btn-sm btn-ghost btn-icon", "aria-label": label, title: label}, extra || {}), [icon(name)]);
  }
  function errorList(errors, id) {
    if (!errors || !errors.length) return null;
    return el("ul", {"class": "errorlist", id: id, role: "alert"}, errors.map(function (e) { return el("li", {text: e.message || e}); }));
  }
  function changed(source) { source.dispatchEvent(new Event("input", {bubbles: true})); }
  var rowErrors = json("builder-errors") || {};

  /* Mount an editor over the field it replaces: returns {source, host, status} or null
     (the plain field stays when its value cannot be read). */
  function mount(name, parse) {
    var host = document.querySelector('[data-editor="' + name + '"]');
    if (!host) return null;
    var source = $(host.getAttribute("data-source"));
    var value;
    try { value = parse(source.value); } catch (e) { return null; }
    host.querySelector("[data-fallback]").hidden = true;
    var status = el("p", {"class": "visually-hidden", role: "status"});
    host.appendChild(status);
    return {source: source, host: host, value: value, status: status};
  }
  function keepFocus(root, key) {
    var target = key && root.querySelector('[data-focus="' + key + '"]');
    if (target && !target.disabled) target.focus();
  }

  /* --- colours: swatch + hex kept in sync, the contrast verdict live ------------------- */
  function hex(value) {
    var v = String(value || "").trim().toLowerCase().replace(/^#/, "");
    if (/^[0-9a-f]{3}$/.test(v)) v = v.replace(/(.)/g, "$1$1");
    return /^[0-9a-f]{6}$/.test(v) ? "#" + v : null;
  }
  function luminance(color) {
    var c = [1, 3, 5].map(function (i) {
      var x = parseInt(color.slice(i, i + 2), 16) / 255;
      return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }
  function contrast() {
    var box = $("contrast");
    if (!box) return;
    var p = hex(form.elements.primary_color.value), t = hex(form.elements.text_color.value);
    var ratioNode = box.querySelector("[data-contrast-ratio]"), level = box.querySelector("[data-contrast-level]");
    var sample = box.querySelector("[data-contrast-sample]");
    if (!p || !t) {
      ratioNode.textContent = "—"; level.textContent = "enter two colours like #2d5bd7"; level.className = "badge badge-info";
      box.classList.remove("is-low"); sample.hidden = true; return;
    }
    var l = [luminance(p), luminance(t)].sort(function (a, b) { return b - a; });
    var ratio = (l[0] + 0.05) / (l[1] + 0.05);
    var ok = ratio >= 4.5;
    ratioNode.textContent = (Math.floor(ratio * 10) / 10).toFixed(1) + ":1";
    level.textContent = ratio >= 7 ? "AAA" : ok ? "AA" : "too low for text";
    level.className = "badge badge-" + (ok ? "success" : "danger");
    box.classList.toggle("is-low", !ok);
    sample.hidden = false;
    sample.style.background = p; sample.style.color = t;
  }
  document.querySelectorAll("[data-swatch-for]").forEach(function (swatch) {
    var text = $(swatch.getAttribute("data-swatch-for"));
    if (!text) return;
    swatch.hidden = false;
    if (hex(text.value)) swatch.value = hex(text.value);
    swatch.addEventListener("input", function () { text.value = swatch.value; changed(text); });
    text.addEventListener("input", function () { var v = hex(text.value); if (v && swatch.value !== v) swatch.value = v; contrast(); });
    text.addEventListener("change", function () { var v = hex(text.value); if (v && v !== text.value) { text.value = v; changed(text); } });
  });
  contrast();

  /* --- suggested questions: a list with add and remove --------------------------------- */
  (function () {
    var MAX = 4;
    var m = mount("questions", function (v) { return v.split("\n").map(function (q) { return q.trim(); }).filter(Boolean); });
    if (!m) return;
    var errs = rowErrors.suggested_questions || {};
    var rows = m.value.map(function (text, i) { return {text: text, errors: errs[String(i)] || []}; });
    var root = el("div", {"class": "editor", role: "group", "aria-labelledby": "questions-label"});
    m.host.insertBefore(root, m.status);

    function save() { m.source.value = rows.map(function (r) { return r.text.trim(); }).filter(Boolean).join("\n"); changed(m.source); }
    function render(focus) {
      root.textContent = "";
      root.appendChild(el("p", {"class": "label", id: "questions-label", text: "Suggested questions"}));
      root.appendChild(el("p", {"class": "help", text: "Up to " + MAX + ", shown as buttons when the chat opens. At most 120 characters each."}));
      var general = errorList(errs._, "questions-errors");
      if (general) root.appendChild(general);
      if (!rows.length) root.appendChild(el("p", {"class": "editor-empty", text: "No suggested questions: visitors start typing."}));
      var list = el("ol", {"class": "editor-list"});
      rows.forEach(function (row, i) {
        var id = "question-" + i;
        var input = el("input", {type: "text", id: id, maxlength: "120", value: row.text, "data-focus": "q" + i,
          "aria-label": "Suggested question " + (i + 1), placeholder: i === 0 ? "e.g. Do you ship abroad?" : "",
          "aria-invalid": row.errors.length ? "true" : null, "aria-describedby": row.errors.length ? id + "-errors" : null,
          "class": row.errors.length ? "is-invalid" : null});
        input.addEventListener("input", function () { row.text = input.value; save(); });
        var remove = iconButton("x", "Remove question " + (i + 1));
        remove.addEventListener("click", function () {
          rows.splice(i, 1); save(); render(rows.length ? "q" + Math.min(i, rows.length - 1) : "q-add");
          m.status.textContent = "Question removed.";
        });
        var li = el("li", {}, [el("div", {"class": "editor-row"}, [input, remove])]);
        var e = errorList(row.errors, id + "-errors");
        if (e) li.appendChild(e);
        list.appendChild(li);
      });
      root.appendChild(list);
      var add = el("button", {type: "button", "class": "btn btn-sm", "data-focus": "q-add", disabled: rows.length >= MAX},
        [icon("plus"), rows.length >= MAX ? "Up to " + MAX + " questions" : "Add a question"]);
      add.addEventListener("click", function () { rows.push({text: "", errors: []}); render("q" + (rows.length - 1)); });
      root.appendChild(add);
      keepFocus(root, focus);
    }
    render();
  })();

  /* --- business hours: a row a day, several ranges a day, time zone, always open -------- */
  (function () {
    var DAYS = [["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"], ["thu", "Thursday"], ["fri", "Friday"], ["sat", "Saturday"], ["sun", "Sunday"]];
    var MAX = 4;
    var m = mount("hours", function (v) {
      var data = v.trim() ? JSON.parse(v) : {};
      if (typeof data !== "object" || data === null || Array.isArray(data)) throw new Error("not hours");
      return data;
    });
    if (!m) return;
    var zones = json("cw-timezones") || ["UTC"];
    var local = "UTC";
    try { local = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { /* keep UTC */ }
    var always = !m.value.tz;
    var tz = m.value.tz || (zones.indexOf(local) >= 0 ? local : "UTC");
    var errs = rowErrors.business_hours || {};
    var days = {};
    DAYS.forEach(function (d, i) {
      var given = m.value.days && m.value.days[d[0]];
      var ranges = Array.isArray(given) ? given.map(function (r) { return [String(r[0] || ""), r[1] === "24:00" ? "00:00" : String(r[1] || "")]; }) : null;
      var open = always ? i < 5 : !!(ranges && ranges.length);
      days[d[0]] = {open: open, ranges: ranges && ranges.length ? ranges : [["09:00", "17:00"]]};
    });
    var root = el("div", {"class": "editor", role: "group", "aria-labelledby": "hours-label"});
    m.host.insertBefore(root, m.status);

    function save() {
      if (always) { m.source.value = ""; changed(m.source); return; }
      var out = {};
      DAYS.forEach(function (d) {
        var day = days[d[0]];
        out[d[0]] = day.open ? day.ranges.map(function (r) { return [r[0], r[1] === "00:00" ? "24:00" : r[1]]; }) : [];
      });
      m.source.value = JSON.stringify({tz: tz, days: out});
      changed(m.source);
    }
    function render(focus) {
      root.textContent = "";
      root.appendChild(el("p", {"class": "label", id: "hours-label", text: "Business hours"}));
      var general = errorList(errs._, "hours-errors");
      if (general) root.appendChild(general);
      var alwaysBox = el("input", {type: "checkbox", id: "hours-always", checked: always, "data-focus": "always"});
      alwaysBox.addEventListener("change", function () { always = alwaysBox.checked; save(); render("always"); });
      var top = el("div", {"class": "hours-top"}, [el("label", {"class": "switch", "for": "hours-always"}, [alwaysBox, "Always open"])]);
      if (!always) {
        var select = el("select", {id: "hours-tz", "data-focus": "tz", "aria-invalid": errs._ ? "true" : null, "aria-describedby": errs._ ? "hours-errors" : null});
        if (zones.indexOf(tz) < 0) zones = [tz].concat(zones);
        zones.forEach(function (z) { select.appendChild(el("option", {value: z, text: z.replace(/_/g, " ")})); });
        select.value = tz;
        select.addEventListener("change", function () { tz = select.value; save(); });
        top.appendChild(el("div", {"class": "field tz"}, [el("label", {"for": "hours-tz", text: "Time zone"}), select]));
      }
      root.appendChild(top);
      if (always) {
        root.appendChild(el("p", {"class": "help", text: "The widget is open around the clock. Untick to set opening hours."}));
        keepFocus(root, focus);
        return;
      }
      var list = el("ul", {"class": "hours"});
      DAYS.forEach(function (d) {
        var key = d[0], name = d[1], day = days[key], dayErrors = errs[key] || [];
        var box = el("input", {type: "checkbox", id: "hours-" + key, checked: day.open, "data-focus": key + "-open"});
        box.addEventListener("change", function () { day.open = box.checked; save(); render(key + "-open"); });
        var ranges = el("div", {"class": "ranges"});
        if (!day.open) ranges.appendChild(el("p", {"class": "closed", text: "Closed"}));
        else day.ranges.forEach(function (r, i) {
          var from = el("input", {type: "time", value: r[0], "aria-label": name + " from", "data-focus": key + i + "from", required: true,
            "aria-invalid": dayErrors.length ? "true" : null, "aria-describedby": dayErrors.length ? "hours-" + key + "-errors" : null});
          var to = el("input", {type: "time", value: r[1], "aria-label": name + " until", "data-focus": key + i + "to", required: true,
            "aria-invalid": dayErrors.length ? "true" : null, "aria-describedby": dayErrors.length ? "hours-" + key + "-errors" : null});
          from.addEventListener("input", function () { r[0] = from.value; save(); });
          to.addEventListener("input", function () { r[1] = to.value; save(); });
          var parts = [from, el("span", {"class": "muted", text: "to"}), to];
          if (day.ranges.length > 1) {
            var remove = iconButton("x", "Remove " + name + " hours " + (i + 1));
            remove.addEventListener("click", function () { day.ranges.splice(i, 1); save(); render(key + "-add"); m.status.textContent = name + ": hours removed."; });
            parts.push(remove);
          }
          ranges.appendChild(el("div", {"class": "range"}, parts));
        });
        if (day.open && day.ranges.length < MAX) {
          var add = el("button", {type: "button", "class": "btn btn-sm btn-ghost", "data-focus": key + "-add"}, [icon("plus"), "Add hours", el("span", {"class": "visually-hidden", text: " on " + name})]);
          add.addEventListener("click", function () {
            var last = day.ranges[day.ranges.length - 1] || ["09:00", "12:00"];
            day.ranges.push([last[1] && last[1] < "22:00" ? last[1] : "13:00", "18:00" > (last[1] || "") ? "18:00" : "23:00"]);
            save(); render(key + (day.ranges.length - 1) + "from");
          });
          ranges.appendChild(el("div", {}, [add]));
        }
        var e = errorList(dayErrors, "hours-" + key + "-errors");
        if (e) ranges.appendChild(e);
        list.appendChild(el("li", {"data-day": key, "class": (dayErrors.length ? "has-error " : "") + (day.open ? "" : "is-closed")}, [
          el("div", {"class": "day"}, [box, el("label", {"for": "hours-" + key}, [name, el("span", {"class": "visually-hidden", text: " open"})])]),
          ranges
        ]));
      });
      root.appendChild(list);
      keepFocus(root, focus);
    }
    render();
  })();

  /* --- prechat form: add, remove, reorder fields ---------------------------------------- */
  (function () {
    var MAX = 12;
    var KINDS = [["name", "Name"], ["email", "Email"], ["phone", "Phone"], ["country", "Country"], ["message", "Message"],
                 ["text", "Short text"], ["select", "Choice list"], ["checkbox", "Checkbox"]];
    var BUILTIN = {name: 1, email: 1, phone: 1, country: 1, message: 1};
    var m = mount("prechat", function (v) {
      var data = v.trim() ? JSON.parse(v) : [];
      if (!Array.isArray(data)) throw new Error("not a list");
      return data;
    });
    if (!m) return;
    var errs = rowErrors.prechat_fields || {};
    var rows = m.value.map(function (f, i) {
      f = f && typeof f === "object" ? f : {};
      return {id: ++uid, key: f.key || "", kind: f.kind || "text", label: f.label || "", placeholder: f.placeholder || "",
              required: !!f.required, options: Array.isArray(f.options) ? f.options.slice() : [], errors: errs[String(i)] || []};
    });
    var root = el("div", {"class": "editor", role: "group", "aria-labelledby": "prechat-label"});
    m.host.insertBefore(root, m.status);

    function slug(text) {
      var s = String(text || "").toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "").replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
      if (!/^[a-z]/.test(s)) s = "field_" + s;
      return s.replace(/_+$/, "").slice(0, 32) || "field";
    }
    function save() {
      var taken = {};
      rows.forEach(function (r) { if (r.key) taken[r.key] = 1; });
      m.source.value = JSON.stringify(rows.map(function (r) {
        var key = r.key;
        if (!key) {
          var base = BUILTIN[r.kind] ? r.kind : slug(r.label), n = 1;
          key = base;
          while (taken[key]) { n += 1; key = base + "_" + n; }
          taken[key] = 1;
        }
        return {key: key, kind: r.kind, label: r.label, required: r.required, placeholder: r.placeholder,
                options: r.kind === "select" ? r.options.filter(function (o) { return o.trim(); }).map(function (o) { return o.trim(); }) : []};
      }));
      changed(m.source);
    }
    function kindName(kind) { var k = KINDS.filter(function (x) { return x[0] === kind; })[0]; return k ? k[1] : kind; }
    function has(row, code) { return row.errors.some(function (e) { return e.code === code; }); }
    function field(id, label, control, extra, errors) {
      var wrap = el("div", {"class": "field" + (extra || "")});
      if (control.type === "checkbox") { wrap.appendChild(control); wrap.appendChild(el("label", {"for": id}, label)); }
      else { wrap.appendChild(el("label", {"for": id}, label)); wrap.appendChild(control); }
      if (errors && errors.length) {
        control.setAttribute("aria-invalid", "true");
        control.setAttribute("aria-describedby", id + "-errors");
        control.classList.add("is-invalid");
        wrap.classList.add("has-error");
        wrap.appendChild(errorList(errors, id + "-errors"));
      }
      return wrap;
    }
    function move(i, by, which) {
      var row = rows.splice(i, 1)[0];
      rows.splice(i + by, 0, row);
      save();
      var at = i + by;
      var focus = "pf" + row.id + (which === "up" && at === 0 ? "down" : which === "down" && at === rows.length - 1 ? "up" : which);
      render(focus);
      m.status.textContent = (row.label || "Field") + " moved to position " + (at + 1) + " of " + rows.length + ".";
    }
    function render(focus) {
      root.textContent = "";
      root.appendChild(el("p", {"class": "label", id: "prechat-label", text: "Fields"}));
      root.appendChild(el("p", {"class": "help", text: "In this order in the form. Name, email, phone, country and message fill in the contact; the other kinds are kept as answers."}));
      var general = errorList(errs._, "prechat-errors");
      if (general) root.appendChild(general);
      if (!rows.length) root.appendChild(el("p", {"class": "editor-empty", text: "No fields yet: the form only shows the consent checkbox, if any."}));
      var list = el("ol", {"class": "pf-list"});
      rows.forEach(function (row, i) {
        var n = i + 1, pre = "pf-" + row.id, named = " of field " + n;
        var title = el("span", {"class": "pf-title", text: row.label || "Untitled field"});
        var up = iconButton("arrow-up", "Move field " + n + " up", {"data-focus": "pf" + row.id + "up", disabled: i === 0});
        var down = iconButton("arrow-down", "Move field " + n + " down", {"data-focus": "pf" + row.id + "down", disabled: i === rows.length - 1});
        var remove = iconButton("x", "Remove field " + n, {"data-focus": "pf" + row.id + "remove"});
        up.addEventListener("click", function () { move(i, -1, "up"); });
        down.addEventListener("click", function () { move(i, 1, "down"); });
        remove.addEventListener("click", function () {
          rows.splice(i, 1); save();
          var next = rows[Math.min(i, rows.length - 1)];
          render(next ? "pf" + next.id + "remove" : "pf-add");
          m.status.textContent = (row.label || "Field") + " removed.";
        });
        var kind = el("select", {id: pre + "-kind", "data-focus": "pf" + row.id + "kind"});
        KINDS.forEach(function (k) { kind.appendChild(el("option", {value: k[0], text: k[1]})); });
        kind.value = row.kind;
        kind.addEventListener("change", function () {
          if (BUILTIN[row.kind] && row.key === row.kind) row.key = "";  // a built-in's key follows its kind
          row.kind = kind.value; save(); render("pf" + row.id + "kind");
        });
        var label = el("input", {type: "text", id: pre + "-label", maxlength: "120", value: row.label, required: true, placeholder: "e.g. Your email"});
        label.addEventListener("input", function () { row.label = label.value; title.textContent = row.label || "Untitled field"; save(); });
        var body = el("div", {"class": "pf-body"}, [
          field(pre + "-kind", ["Kind", el("span", {"class": "visually-hidden", text: named})], kind, "", row.errors.filter(function (e) { return e.code === "invalid_kind"; })),
          field(pre + "-label", ["Label", el("span", {"class": "visually-hidden", text: named})], label, "", row.errors.filter(function (e) { return e.code === "required" || e.code === "invalid_key"; }))
        ]);
        if (row.kind !== "checkbox") {
          var ph = el("input", {type: "text", id: pre + "-placeholder", maxlength: "120", value: row.placeholder});
          ph.addEventListener("input", function () { row.placeholder = ph.value; save(); });
          body.appendChild(field(pre + "-placeholder", ["Placeholder", el("span", {"class": "visually-hidden", text: named})], ph));
        }
        var req = el("input", {type: "checkbox", id: pre + "-required", checked: row.required});
        req.addEventListener("change", function () { row.required = req.checked; save(); });
        body.appendChild(field(pre + "-required", ["Required", el("span", {"class": "visually-hidden", text: named})], req, " check"));
        if (row.kind === "select") {
          var opts = el("textarea", {id: pre + "-options", rows: "3", value: row.options.join("\n"), placeholder: "One option per line"});
          opts.addEventListener("input", function () { row.options = opts.value.split("\n"); save(); });
          body.appendChild(field(pre + "-options", ["Options, one per line", el("span", {"class": "visually-hidden", text: named})], opts, " wide",
            row.errors.filter(function (e) { return e.code === "invalid_options"; })));
        }
        var other = row.errors.filter(function (e) { return ["invalid_kind", "required", "invalid_key", "invalid_options"].indexOf(e.code) < 0; });
        if (other.length) body.appendChild(el("div", {"class": "wide"}, [errorList(other, pre + "-errors")]));
        list.appendChild(el("li", {"class": "pf" + (row.errors.length ? " has-error" : ""), "data-field": row.key || row.kind}, [
          el("div", {"class": "pf-head"}, [el("span", {"class": "pf-num", "aria-hidden": "true", text: String(n)}), title,
            el("span", {"class": "badge", text: kindName(row.kind)}), el("div", {"class": "pf-tools"}, [up, down, remove])]),
          body
        ]));
      });
      root.appendChild(list);
      var add = el("button", {type: "button", "class": "btn btn-sm", "data-focus": "pf-add", disabled: rows.length >= MAX},
        [icon("plus"), rows.length >= MAX ? "Up to " + MAX + " fields" : "Add a field"]);
      add.addEventListener("click", function () {
        var row = {id: ++uid, key: "", kind: "text", label: "", placeholder: "", required: false, options: [], errors: []};
        rows.push(row); save(); render(); $("pf-" + row.id + "-label").focus();
        m.status.textContent = "Field " + rows.length + " added.";
      });
      root.appendChild(add);
      keepFocus(root, focus);
    }
    render();
  })();

  /* --- custom CSS: reset to what was saved ---------------------------------------------- */
  (function () {
    var reset = $("css-reset"), area = form.elements.custom_css, saved = json("cw-saved-css");
    if (!reset || !area || saved === null) return;
    reset.hidden = false;
    reset.addEventListener("click", function () {
      area.value = saved; changed(area);
      $("css-status").textContent = "Restored the saved CSS.";
      area.focus();
    });
  })();

  /* --- unsaved changes ------------------------------------------------------------------- */
  var saveStatus = $("save-status"), dirty = false;
  form.addEventListener("input", function () {
    if (dirty || !saveStatus) return;
    dirty = true;
    saveStatus.textContent = "";
    saveStatus.appendChild(el("span", {"class": "badge badge-warning", text: "Unsaved changes"}));
  });

  /* --- the live preview ------------------------------------------------------------------ */
  var stage = $("preview-stage");
  var view = "closed", timer = null, adopted = false, keepFocusOn = null;
  // Keeps the widget in its pane (not the page's corner), whatever its size.
  var FRAME_CSS = ".panel{max-height:calc(100% - 120px);max-width:calc(100% - 40px)}\n";

  function value(name) {
    var e = form.elements[name];
    if (!e) return "";
    return e.type === "checkbox" ? e.checked : e.value;
  }
  function draft() {
    var fields = [];
    try { fields = JSON.parse(value("prechat_fields_json") || "[]"); } catch (e) { fields = []; }
    if (!Array.isArray(fields)) fields = [];
    var cfg = {
      name: value("name"), bot_name: value("bot_name"), greeting: value("greeting"), position: value("position"),
      offset: {x: +value("offset_x") || 0, y: +value("offset_y") || 0}, theme: value("theme"),
      launcher_icon: value("launcher_icon"), locale: value("locale"), custom_css: FRAME_CSS + value("custom_css"),
      branding: value("show_branding"), open_now: openNow(), offline_message: value("offline_message"),
      avatar: json("cw-avatar"), launcher_image: json("cw-launcher-image"),
      suggested_questions: String(value("suggested_questions_text")).split("\n").map(function (q) { return q.trim(); }).filter(Boolean).slice(0, 4),
      colors: {primary: hex(value("primary_color")) || "#2d5bd7", text: hex(value("text_color")) || "#ffffff"},
      prechat: {enabled: value("prechat_enabled"), fields: fields.filter(function (f) { return f && f.label; }),
                consent: value("consent_text") ? {text: value("consent_text"), url: value("consent_url"), version: 0} : null}
    };
    if (view === "prechat") cfg.prechat.enabled = true;
    if (view === "chat") cfg.prechat.enabled = false;
    if (view === "phone") cfg.preview_phone = true;
    return cfg;
  }
  // Whether the hours in the form say "open" now (the server computes the same for visitors).
  function openNow() {
    var hours;
    try { hours = JSON.parse(value("business_hours_json") || "{}"); } catch (e) { return true; }
    if (!hours || !hours.tz || !hours.days) return true;
    try {
      var parts = {};
      new Intl.DateTimeFormat("en-GB", {timeZone: hours.tz, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23"})
        .formatToParts(new Date()).forEach(function (p) { parts[p.type] = p.value; });
      var clock = parts.hour + ":" + parts.minute;
      return (hours.days[String(parts.weekday).slice(0, 3).toLowerCase()] || []).some(function (r) { return r[0] <= clock && clock < r[1]; });
    } catch (e) { return true; }
  }
  function widget() { return window.ChatWidget && window.ChatWidget.preview ? window.ChatWidget : null; }
  function restoreFocus() {
    var target = keepFocusOn;
    if (target && document.contains(target) && document.activeElement !== target) target.focus({preventScroll: true});
  }
  // The widget's window focuses its first control when it opens: typing here keeps focus here.
  function guarded(fn) {
    var active = document.activeElement;
    keepFocusOn = active && active !== document.body && !active.closest("[data-chat-widget]") ? active : null;
    fn();
    restoreFocus();
    window.setTimeout(function () { keepFocusOn = null; }, 1500);
  }
  function redraw() {
    var chat = widget();
    if (chat) guarded(function () { chat.preview(draft()); });
  }
  function adopt() {
    var host = document.querySelector("body > [data-chat-widget]");
    if (!host || !stage) return;
    stage.appendChild(host);
    if (!adopted) {
      adopted = true;
      var chat = widget();
      if (chat) chat.on("open", restoreFocus);
      window.setTimeout(redraw, 0);  // draw from the form as it is (a refused save keeps what was typed)
    }
  }
  if (stage) {
    new MutationObserver(adopt).observe(document.body, {childList: true});
    adopt();
  }

  document.querySelectorAll("[data-view]").forEach(function (button) {
    button.addEventListener("click", function () {
      var chat = widget();
      if (!chat) return;
      clearTimeout(timer);  // a redraw still pending from typing would undo this choice
      view = button.getAttribute("data-view");
      document.querySelectorAll("[data-view]").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
      guarded(function () {
        chat.preview(draft());
        if (view === "closed") chat.close(); else chat.open();
      });
    });
  });

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(redraw, 150);
  });
  form.addEventListener("change", function () {
    clearTimeout(timer);
    timer = setTimeout(redraw, 150);
  });

  /* --- the embed snippet: app.js copies; the server hears of it once ---------------------- */
  var embed = $("embed"), copiedUrl = embed && embed.getAttribute("data-copied-url");
  document.addEventListener("ui:copied", function (e) {
    if (!copiedUrl || !embed.contains(e.target)) return;
    fetch(copiedUrl, {method: "POST", credentials: "same-origin", headers: {"X-CSRFToken": form.elements.csrfmiddlewaretoken.value}});
  });

  /* --- "any website can embed": shown while no domain is listed ------------------------------ */
  var origins = form.elements.allowed_origins_text, anyOrigin = $("any-origin-notice");
  if (origins && anyOrigin) {
    var anyOriginShow = function () { anyOrigin.hidden = origins.value.trim() !== ""; };
    origins.addEventListener("input", anyOriginShow);
    anyOriginShow();
  }

  /* --- the preview's loader, once the page has loaded: the form is usable first ------------ */
  function previewStart() {
    var holder = $("preview-loader");
    if (!holder) return;
    var script = document.createElement("script");
    script.async = true;
    script.src = holder.getAttribute("data-src");
    script.setAttribute("data-widget", holder.getAttribute("data-widget"));
    script.setAttribute("data-preview-config", holder.getAttribute("data-preview-config"));
    holder.replaceWith(script);
  }
  if (document.readyState === "complete") previewStart();
  else window.addEventListener("load", previewStart);

  /* --- a refused save: take people to the first setting to fix ---------------------------- */
  var firstBad = Array.prototype.filter.call(form.querySelectorAll('[aria-invalid="true"]'), function (n) {
    return n.getClientRects().length > 0;  // not a field an editor replaced
  })[0];
  if (firstBad) firstBad.focus();
})();
