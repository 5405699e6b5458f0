// Site-wide, loaded in <head> without defer: applies the listener's saved choices (dark mode,
// text size, line spacing) before first paint, then wires the dark-mode toggle and registers
// the service worker that keeps classes for offline listening.
(function () {
  "use strict";
  var root = document.documentElement;
  function load(key) { try { return localStorage.getItem(key); } catch (e) { return null; } }
  var theme = load("shiur-theme");
  if (theme) root.dataset.theme = theme;
  // Reading comfort (set from the player's settings panel; see player.js): CSS variables.
  var size = parseFloat(load("shiur-text-size")), leading = parseFloat(load("shiur-line-height"));
  if (size) root.style.setProperty("--text-scale", String(size));
  if (leading) root.style.setProperty("--text-leading", String(leading));

  var script = document.currentScript;
  var sw = script && script.dataset.sw;
  if (sw && "serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register(sw).catch(function () { /* offline copies are a nicety */ });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
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
  });
})();
