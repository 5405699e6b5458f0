// Set the saved theme before first paint (loaded without defer in <head>), so a dark-mode
// listener never sees a white flash; a file rather than inline code, for the CSP.
try { var t = localStorage.getItem("shiur-theme"); if (t) document.documentElement.dataset.theme = t; } catch (e) { /* private mode */ }
