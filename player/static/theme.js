// Dark-mode toggle: follows the system until the listener picks, then remembers the choice.
(function () {
  "use strict";
  var root = document.documentElement;
  var btn = document.getElementById("theme-toggle");
  if (!btn) return;
  var media = window.matchMedia("(prefers-color-scheme: dark)");
  function isDark() {
    var t = root.dataset.theme;
    return t ? t === "dark" : media.matches;
  }
  function sync() { btn.setAttribute("aria-pressed", String(isDark())); }
  btn.addEventListener("click", function () {
    var next = isDark() ? "light" : "dark";
    root.dataset.theme = next;
    try { localStorage.setItem("shiur-theme", next); } catch (e) { /* private mode: still toggles */ }
    sync();
  });
  media.addEventListener("change", sync);
  sync();
})();
