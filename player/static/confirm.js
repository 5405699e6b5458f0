// Forms with data-confirm ask before they are sent. The question is read from the attribute
// (text, never code), so a username in it cannot break out into script.
(function () {
  "use strict";
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) ev.preventDefault();
  });
})();
