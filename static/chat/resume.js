/* The resume page: the link emailed with a reply carries the resume token in the URL
   fragment (#resume=...), which the browser never sends to a server. Read it, take it out
   of the address bar and history, and hand it to the widget (data-resume on the loader's
   script), opened full-page. */
(function () {
  "use strict";
  var self = document.currentScript || document.querySelector("script[data-loader]");
  var key = self.getAttribute("data-widget");
  var match = /(?:^#|&)resume=([^&]+)/.exec(window.location.hash || "");
  var token = match ? decodeURIComponent(match[1]) : "";
  if (token && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname);
  }
  var loader = document.createElement("script");
  loader.async = true;
  loader.src = self.getAttribute("data-loader");
  loader.setAttribute("data-widget", key);
  loader.setAttribute("data-full-page", "1");
  if (token) loader.setAttribute("data-resume", token);
  loader.addEventListener("load", function () {
    if (window.ChatWidget && typeof window.ChatWidget.open === "function") window.ChatWidget.open();
  });
  document.body.appendChild(loader);
})();
