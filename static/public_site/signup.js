/* Signup form: suggests the workspace address from its name and checks, as people type,
 * whether the address is free (the form works without it; the server checks again).
 * The check's URL comes from the form's data-slug-check-url. */
(function () {
  "use strict";

  var form = document.getElementById("signup-form");
  var name = document.getElementById("id_workspace_name");
  var slug = document.getElementById("id_slug");
  var status = document.getElementById("slug-status");
  if (!form || !name || !slug || !status) return;
  var checkUrl = form.getAttribute("data-slug-check-url");
  var edited = slug.value !== "", timer = null;

  function suggest(text) {
    return text.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "-").replace(/^[^a-z]+/, "").replace(/-+$/, "").slice(0, 40);
  }

  function check() {
    if (!slug.value) { status.textContent = ""; return; }
    fetch(checkUrl + "?slug=" + encodeURIComponent(slug.value), {headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
      .then(function (res) {
        var ok = res[0], body = res[1];
        status.textContent = ok ? body.address + " is available." :
          ((body.errors && body.errors.slug && body.errors.slug[0].message) || body.detail);
        status.className = ok ? "help ok" : "help errorlist";
      }).catch(function () { status.textContent = ""; });
  }

  function later() { clearTimeout(timer); timer = setTimeout(check, 250); }

  name.addEventListener("input", function () { if (!edited) { slug.value = suggest(name.value); later(); } });
  slug.addEventListener("input", function () { edited = slug.value !== ""; later(); });
})();
