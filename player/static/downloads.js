// The cue-text choice applies to the subtitle downloads; a plain link still works without script.
(function () {
  "use strict";
  var form = document.getElementById("cue-text-form");
  if (!form) return;
  function update() {
    var v = form.querySelector("input[name=cue_text]:checked").value;
    document.querySelectorAll("ul.downloads a[data-fmt]").forEach(function (a) {
      var url = new URL(a.href);
      if (a.hasAttribute("data-cue-text")) url.searchParams.set("cue_text", v);
      a.href = url.toString();
    });
  }
  form.addEventListener("change", update);
  update();
})();
