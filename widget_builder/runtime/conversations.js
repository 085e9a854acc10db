/* The visitor's conversations: the list view reached from the widget's header. Opens one,
   starts a new one, renames one in place, deletes one after asking. Served joined before
   chat.js, in the same closure (widget_builder.runtime_views): chat.js calls
   conversationList(ui) with what it needs of the UI, and adds conversationsCss() to its style. */

function conversationsCss(primary, onPrimary) {
  return ".convs{padding:12px 12px 16px}.chead{display:flex;align-items:center;justify-content:space-between;gap:8px;margin:0 4px 10px}" +
    ".chead h3{all:unset;font-weight:600;font-size:15px}.chead .send{width:auto;margin:0;padding:8px 12px;font-size:14px}" +
    ".clist{list-style:none;margin:0;padding:0}.citem{display:flex;align-items:stretch;gap:2px;border-radius:10px;margin:0 0 6px;border:1px solid rgba(127,127,127,.28)}" +
    ".citem.current{border-color:" + primary + ";box-shadow:inset 3px 0 0 " + primary + "}" +
    ".copen{all:unset;box-sizing:border-box;cursor:pointer;flex:1;min-width:0;display:grid;grid-template-columns:1fr auto;gap:2px 8px;padding:10px 8px 10px 12px;border-radius:10px}" +
    ".copen:hover,.cacts .b:hover{background:rgba(127,127,127,.12)}" +
    ".ctitle{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}.cwhen{font-size:12px;opacity:.75;text-align:right;white-space:nowrap}" +
    ".cprev{grid-column:1;font-size:13px;opacity:.8;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}" +
    ".cside{grid-column:2;display:flex;justify-content:flex-end;align-items:center;gap:4px}" +
    ".badge{min-width:18px;height:18px;box-sizing:border-box;padding:0 5px;border-radius:9px;background:" + primary + ";color:" + onPrimary + ";font-size:11px;font-weight:700;line-height:18px;text-align:center}" +
    ".tag{font-size:11px;opacity:.75;border:1px solid currentColor;border-radius:6px;padding:0 4px}" +
    ".cacts{display:flex;align-items:center;padding-right:4px}.cacts .b{display:inline-flex;align-items:center;justify-content:center;width:36px;height:36px;opacity:.8}.cacts .b:hover{opacity:1}" +
    ".crename,.cconfirm{flex:1;padding:8px}.crename .row,.cconfirm .row{display:flex;gap:6px;margin-top:6px}.crename input{padding:6px 8px}" +
    ".cconfirm p{margin:0}.row .b{border:1px solid rgba(127,127,127,.5);padding:6px 12px}.row .danger{background:#b42318;border-color:#b42318;color:#fff}" +
    ".more{display:block;margin:8px auto 0}.cempty{text-align:center;font-size:14px;opacity:.75;margin:24px 0}.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}";
}

// Line icons (drawn, not emoji: no font on the visitor's device can miss them).
var ICON_RENAME = "M4 20h4L19 9l-4-4L4 16v4zM13.5 6.5l4 4", ICON_DELETE = "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6";
function conversationIcon(d) {
  var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg"), path = document.createElementNS(ns, "path");
  [["viewBox", "0 0 24 24"], ["width", "18"], ["height", "18"], ["aria-hidden", "true"], ["focusable", "false"]].forEach(function (a) { svg.setAttribute(a[0], a[1]); });
  [["d", d], ["fill", "none"], ["stroke", "currentColor"], ["stroke-width", "2"], ["stroke-linecap", "round"], ["stroke-linejoin", "round"]].forEach(function (a) { path.setAttribute(a[0], a[1]); });
  svg.appendChild(path);
  return svg;
}

/* ui: el, t, lang(), request(method, path, data) -> {ok, status, json}, problem(res),
   root (the view's element), current() (the open conversation's id), open(id), start(),
   deleted(id). Returns {load()}. */
function conversationList(ui) {
  "use strict";
  var el = ui.el, t = ui.t, cursor = null, gen = 0;
  var heading = el("h3", {id: "cw-convs-h", tabindex: "-1", text: t("convs")});
  var newBtn = el("button", {"class": "send", type: "button", text: t("newConv")});
  var list = el("ul", {"class": "clist", "aria-labelledby": "cw-convs-h"});
  var more = el("button", {"class": "chip more", type: "button", text: t("moreConvs"), hidden: ""});
  var empty = el("p", {"class": "cempty", text: t("noConvs"), hidden: ""});
  var told = el("p", {"class": "vh", role: "status"});
  ui.root.append(el("div", {"class": "chead"}, [heading, newBtn]), told, empty, list, more);
  newBtn.addEventListener("click", function () {
    newBtn.disabled = true;
    Promise.resolve(ui.start()).then(function () { newBtn.disabled = false; });
  });
  more.addEventListener("click", function () { page(gen).then(function (first) { if (first) first.focus(); }); });

  function say(text) { told.textContent = ""; setTimeout(function () { told.textContent = text; }, 50); }
  function date(iso, long) {
    var d = new Date(iso), now = new Date(), lang = ui.lang();
    var opts = long ? {day: "numeric", month: "long", year: "numeric"}
      : {day: "numeric", month: "short", year: d.getFullYear() === now.getFullYear() ? undefined : "numeric"};
    try {
      if (!long && d.toDateString() === now.toDateString()) return d.toLocaleTimeString(lang, {hour: "numeric", minute: "2-digit"});
      return d.toLocaleDateString(lang, opts);
    } catch (e) { return d.toLocaleDateString(); }
  }
  // A preview reads as text: Markdown's marks, links' addresses and citation numbers left out.
  function plain(s) {
    return String(s || "").replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/\s*\[\d{1,3}\]/g, "")
      .replace(/\*\*|__|`+|^#{1,6}\s+/gm, "").replace(/\s+/g, " ").trim();
  }
  // The server's default for a conversation without words is its date: said in the visitor's language.
  function title(c) { return c.title_source === "date" ? t("onDate", date(c.created_at, true)) : c.title; }

  function fill(li, c) {
    var name = title(c), m = c.last_message, current = String(c.id) === String(ui.current());
    li.className = "citem" + (current ? " current" : "");
    var side = el("span", {"class": "cside"}, [
      c.status === "closed" ? el("span", {"class": "tag", text: t("endedTag")}) : null,
      c.unread_count ? el("span", {"class": "badge", "aria-hidden": "true", text: String(c.unread_count)}) : null,
      c.unread_count ? el("span", {"class": "vh", text: t("unread", c.unread_count)}) : null]);
    var open = el("button", {"class": "copen", type: "button"}, [
      el("span", {"class": "ctitle", text: name}), el("span", {"class": "cwhen", text: date(c.updated_at)}),
      el("span", {"class": "cprev", text: m ? (m.role === "visitor" ? t("you", plain(m.text)) : plain(m.text)) : ""}), side]);
    if (current) open.setAttribute("aria-current", "true");
    var ren = el("button", {"class": "b", type: "button", "aria-label": t("renameX", name), title: t("rename")}, [conversationIcon(ICON_RENAME)]);
    var del = el("button", {"class": "b", type: "button", "aria-label": t("deleteX", name), title: t("del")}, [conversationIcon(ICON_DELETE)]);
    open.addEventListener("click", function () { ui.open(c.id); });
    ren.addEventListener("click", function () { rename(li, c); });
    del.addEventListener("click", function () { confirmDelete(li, c); });
    li.replaceChildren(open, el("span", {"class": "cacts"}, [ren, del]));
    return li;
  }
  function back(li, c, which) { fill(li, c); li.querySelectorAll(".cacts .b")[which].focus(); }
  function escape(e, fn) { if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); fn(); } }
  function problemAt(err, res) { err.textContent = ui.problem(res); err.hidden = false; }

  function rename(li, c) {
    var id = "cw-ren-" + c.id, err = el("p", {"class": "err", id: id + "-err", role: "alert", hidden: ""});
    var input = el("input", {id: id, type: "text", maxlength: "120", placeholder: title(c), "aria-describedby": id + "-err"});
    var save = el("button", {"class": "b", type: "submit", text: t("save")});
    var cancel = el("button", {"class": "b", type: "button", text: t("cancel")});
    var form = el("form", {"class": "crename", novalidate: ""}, [
      el("label", {"for": id, "class": "vh", text: t("titleLabel")}), input, err, el("div", {"class": "row"}, [save, cancel])]);
    input.value = c.title_source === "custom" ? c.title : "";
    cancel.addEventListener("click", function () { back(li, c, 0); });
    form.addEventListener("keydown", function (e) { escape(e, function () { back(li, c, 0); }); });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      save.disabled = true;
      ui.request("PATCH", "/conversations/" + c.id, {title: input.value}).then(function (res) {
        save.disabled = false;
        if (!res.ok) { input.setAttribute("aria-invalid", "true"); problemAt(err, res); return input.focus(); }
        Object.assign(c, res.json);
        back(li, c, 0); say(t("renamed", title(c)));
      }).catch(function () { save.disabled = false; err.textContent = t("error"); err.hidden = false; });
    });
    li.replaceChildren(form);
    input.focus(); input.select();
  }

  function confirmDelete(li, c) {
    var id = "cw-del-" + c.id, err = el("p", {"class": "err", role: "alert", hidden: ""});
    var yes = el("button", {"class": "b danger", type: "button", text: t("del")});
    var no = el("button", {"class": "b", type: "button", text: t("cancel")});
    var box = el("div", {"class": "cconfirm", role: "group", "aria-labelledby": id}, [
      el("p", {id: id, text: t("deleteQ", title(c))}), err, el("div", {"class": "row"}, [yes, no])]);
    no.addEventListener("click", function () { back(li, c, 1); });
    box.addEventListener("keydown", function (e) { escape(e, function () { back(li, c, 1); }); });
    yes.addEventListener("click", function () {
      yes.disabled = true;
      ui.request("DELETE", "/conversations/" + c.id).then(function (res) {
        yes.disabled = false;
        if (!res.ok && res.status !== 404) return problemAt(err, res);  // 404: already gone
        var next = li.nextElementSibling || li.previousElementSibling;
        li.remove();
        empty.hidden = !!list.firstChild;
        ui.deleted(c.id);
        say(t("deleted"));
        (next ? next.querySelector(".copen") : newBtn).focus();
      }).catch(function () { yes.disabled = false; err.textContent = t("error"); err.hidden = false; });
    });
    li.replaceChildren(box);
    no.focus();  // the safe choice first
  }

  // One page after the cursor; resolves with the first new item's button (for focus).
  function page(g) {
    more.disabled = true;
    return ui.request("GET", "/conversations?limit=20" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "")).then(function (res) {
      if (g !== gen) return null;
      more.disabled = false;
      if (!res.ok) { say(ui.problem(res)); empty.textContent = ui.problem(res); empty.hidden = false; return null; }
      var first = null;
      (res.json.conversations || []).forEach(function (c) {
        var li = fill(el("li"), c);
        list.appendChild(li);
        first = first || li.querySelector(".copen");
      });
      cursor = res.json.next_cursor; more.hidden = !cursor;
      empty.textContent = t("noConvs"); empty.hidden = !!list.firstChild;
      return first;
    }).catch(function () { more.disabled = false; say(t("error")); return null; });
  }

  return {
    // Shown afresh each time: the list, newest activity first; focus on the open conversation.
    load: function () {
      var g = ++gen;
      cursor = null; list.textContent = ""; more.hidden = true; empty.hidden = true;
      heading.focus();
      return page(g).then(function () {
        if (g !== gen) return;
        var current = list.querySelector(".current .copen");
        if (current) current.focus();
      });
    }
  };
}
