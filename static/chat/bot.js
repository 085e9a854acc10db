/* The Bot tab: the server address, key choice and API key show only where they apply
 * (the form works without this; the server validates every combination). */
(function () {
  "use strict";

  var provider = document.getElementById("id_provider");
  var keySource = document.getElementById("id_key_source");
  if (!provider) return;
  function row(id) {
    var input = document.getElementById(id);
    return input ? input.closest(".field") : null;
  }
  var rows = {
    base_url: row("id_base_url"),
    key_source: row("id_key_source"),
    api_key: row("id_api_key"),
    remove_key: row("id_remove_key"),
  };
  var ownKeyProviders = ["anthropic", "openai", "openai_compatible"];

  function show(node, visible) {
    // A field the server refused stays in sight whatever the choice.
    if (node) node.hidden = !visible && !node.classList.contains("has-error");
  }
  function update() {
    var ownKeyPossible = ownKeyProviders.indexOf(provider.value) !== -1;
    var ownKey = ownKeyPossible && (!keySource || keySource.value === "own");
    show(rows.base_url, provider.value === "openai_compatible");
    show(rows.key_source, ownKeyPossible);
    show(rows.api_key, ownKey);
    show(rows.remove_key, ownKey);
  }
  provider.addEventListener("change", update);
  if (keySource) keySource.addEventListener("change", update);
  update();
})();
