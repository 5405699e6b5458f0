// Lecturer pages: Hebrew date on the upload form, live job progress, and the review editing controls.
(function () {
  "use strict";

  function fmt(seconds) {
    if (seconds == null || !isFinite(seconds)) return "";
    var s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)) + ":" + String(r).padStart(2, "0");
    return h ? h + ":" + mm : mm;
  }

  // Messages come as "עברית. / English." (or "·" between): each half in its own <bdi>, so the
  // English full stop stays at the end of its sentence in a right-to-left page.
  function setMessage(el, msg) {
    var parts = String(msg || "").split(/ (?:\/|·) /);
    el.replaceChildren();
    parts.forEach(function (part, i) {
      if (i) el.append(" / ");
      var b = document.createElement("bdi");
      if (parts.length > 1) { b.lang = i ? "en" : "he"; if (i) b.dir = "ltr"; }
      b.textContent = part;
      el.append(b);
    });
  }

  // ---- upload form ----
  var dateInput = document.getElementById("recorded_on");
  var hebrew = document.getElementById("hebrew-date");
  if (dateInput && hebrew) {
    dateInput.addEventListener("change", function () {
      fetch(hebrew.dataset.url + "?date=" + encodeURIComponent(dateInput.value), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (d) { hebrew.textContent = d.hebrew || ""; })
        .catch(function () {});
    });
  }
  var form = document.getElementById("upload-form");
  var feedback = document.getElementById("upload-feedback");

  // Why an upload was refused: just above the Upload button, scrolled to and focused, so a
  // keyboard or screen-reader user lands on it and nobody has to look for it at the top.
  function showRefusal() {
    var box = document.getElementById("upload-errors");
    if (!box) return;
    box.scrollIntoView({block: "center"});
    box.focus({preventScroll: true});
  }
  if (form) showRefusal();

  if (form && window.FormData && window.XMLHttpRequest) {
    // Sent by XHR to show how much of a (possibly several GB) file has gone up, and so that a
    // refused upload leaves the form as it was, chosen files included. Without script the same
    // form posts normally.
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var note = document.getElementById("upload-progress");
      var bar = document.getElementById("upload-bar");
      var submit = document.getElementById("upload-submit");
      function done() { submit.disabled = false; bar.hidden = true; note.hidden = true; }
      note.hidden = false;
      bar.hidden = false;
      bar.value = 0;
      submit.disabled = true;
      note.textContent = "מעלה… אל תסגרו את הדף · Uploading… keep this page open";
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.setRequestHeader("Accept", "application/json");
      // The token in a header is checked before the server reads the (large) body.
      xhr.setRequestHeader("X-CSRF-Token", form.elements["csrf_token"].value);
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        var pct = Math.floor(100 * e.loaded / e.total);
        bar.value = pct;
        note.textContent = pct < 100
          ? "מעלה " + pct + "% · Uploading " + pct + "%"
          : "בודק את הקבצים… · Checking the files…";
      });
      xhr.addEventListener("load", function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: a proxy's error page */ }
        if (xhr.status < 400 && data && data.redirect) { location.href = data.redirect; return; }
        done();
        if (data && data.errors_html) {
          feedback.innerHTML = data.errors_html;
        } else {
          var box = document.createElement("div");
          box.className = "error";
          box.id = "upload-errors";
          box.setAttribute("role", "alert");
          box.tabIndex = -1;
          setMessage(box, (data && data.error) ||
            ("ההעלאה נכשלה (שגיאת שרת " + xhr.status + "). · The upload failed (server error " + xhr.status + ")."));
          feedback.replaceChildren(box);
        }
        showRefusal();
      });
      xhr.addEventListener("error", function () {
        done();
        note.hidden = false;
        setMessage(note, "ההעלאה נכשלה (החיבור נותק). נסו שוב. · The upload failed (connection lost); try again.");
      });
      xhr.send(new FormData(form));
    });
  }

  // ---- review page ----
  var review = document.getElementById("review");
  if (!review) return;
  var csrf = review.dataset.csrf;
  var startState = review.dataset.state;
  var audio = document.getElementById("audio");
  var DONE_STATES = ["done", "failed", "none"];

  function showJob(j) {
    var st = document.getElementById("job-state");
    st.textContent = j.label || j.state;
    st.className = "state-" + j.state;
    st.dataset.state = j.state;
    document.getElementById("job-percent").textContent = j.state === "transcribing" ? j.percent + "%" : "";
    document.getElementById("job-eta").textContent =
      j.state === "transcribing" && j.eta != null ? "· נותרו כ־" + fmt(j.eta) + " · ETA " + fmt(j.eta) : "";
    var bar = document.getElementById("job-progress");
    bar.hidden = DONE_STATES.indexOf(j.state) >= 0;
    bar.value = j.state === "aligning" ? 100 : j.percent;
    document.getElementById("job-message").textContent = j.message || "";
    document.getElementById("job-failed").hidden = j.state !== "failed";
    var idle = document.getElementById("no-worker");
    if (idle) idle.hidden = j.worker_running !== false || DONE_STATES.indexOf(j.state) >= 0;
    setMessage(document.getElementById("job-error"), j.error || "");
    review.dataset.state = j.state;
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); });
  }

  function poll() {
    getJSON(review.dataset.statusUrl)
      .then(function (j) {
        showJob(j);
        if (DONE_STATES.indexOf(j.state) < 0) { setTimeout(poll, 1000); return; }
        if (startState === j.state || j.state !== "done") return;
        startState = j.state;
        // The first result brings the player and the text: that takes a new page. A re-alignment
        // only changes times, which the page takes in place.
        if (!review.dataset.hasAlignment) { location.reload(); return; }
        getJSON(review.dataset.reviewUrl).then(apply).catch(function (e) { say(e.message); });
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  if (DONE_STATES.indexOf(startState) < 0) poll();

  var selected = null;
  var buttons = ["set-start", "nudge-back", "nudge-fwd", "not-read"].map(function (id) {
    return document.getElementById(id);
  }).filter(Boolean);

  function rowOf(pid) {
    return document.querySelector('#review-rows tr[data-passage="' + (window.CSS ? CSS.escape(pid) : pid) + '"]');
  }

  function select(pid, seek) {
    selected = pid;
    var label = document.getElementById("sel-passage");
    if (label) label.textContent = pid;
    buttons.forEach(function (b) { b.disabled = false; });
    document.querySelectorAll("#review-rows tr.selected").forEach(function (tr) { tr.classList.remove("selected"); });
    var row = rowOf(pid);
    if (row) {
      row.classList.add("selected");
      if (seek && audio && row.dataset.start !== "") audio.currentTime = parseFloat(row.dataset.start);
    }
    document.querySelectorAll(".ps.review-selected").forEach(function (e) { e.classList.remove("review-selected"); });
    var ps = document.getElementById(pid);
    if (ps) ps.classList.add("review-selected");
  }

  var rowsBox = document.querySelector("#review-rows tbody");
  if (rowsBox) {
    // One listener for rows that are redrawn after every edit.
    rowsBox.addEventListener("click", function (ev) {
      var b = ev.target.closest && ev.target.closest("button.pick");
      if (b) select(b.dataset.passage, true);
    });
  }
  var disc = document.getElementById("discourse");
  if (disc) {
    disc.addEventListener("click", function (ev) {
      var ps = ev.target.closest && ev.target.closest(".ps");
      if (ps && ps.id) select(ps.id, false);
    });
  }

  function say(msg) {
    var n = document.getElementById("notice");
    if (n) { n.hidden = false; setMessage(n, msg); } else { alert(msg); }
  }

  // The player's tracks get the cues of the files just written, so highlighting, the timeline
  // marks and "start here" follow the edit at once, without loading the page again.
  function replaceCues(track, cues) {
    if (!track || !window.VTTCue) return;
    Array.prototype.slice.call(track.cues || []).forEach(function (c) { track.removeCue(c); });
    cues.forEach(function (c) {
      var cue = new VTTCue(c.start, c.end, c.text || "");
      cue.id = c.id;
      track.addCue(cue);
    });
  }

  function apply(state) {
    if (rowsBox && state.rows_html != null) rowsBox.innerHTML = state.rows_html;
    var hist = document.getElementById("history");
    if (hist && state.history_html != null) hist.innerHTML = state.history_html;
    var p = window.shiurPlayer;
    if (p && state.cues) {
      replaceCues(p.track, state.cues.passages);
      replaceCues(p.chapters, state.cues.paragraphs);
      // The highlighted cue may be gone: highlight afresh from the new cues at the current time.
      p.activeCue = undefined;
      p.setActive(p.findCue(p.audio.currentTime));
      p.drawMarks();
      if (p.root.dataset.words) {
        fetch(p.root.dataset.words, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : {}; })
          .then(function (w) { p.words = w || {}; p.updateWord(); }).catch(function () {});
      }
    }
    if (selected) {
      select(selected, false);
      var row = rowOf(selected);
      if (row) row.scrollIntoView({block: "nearest"});
    }
    review.dispatchEvent(new CustomEvent("review-updated", {detail: state}));
  }

  var pending = false;
  function post(url, body) {
    if (pending) return Promise.resolve();
    pending = true;
    buttons.concat([document.getElementById("undo")]).forEach(function (b) { if (b) b.setAttribute("aria-busy", "true"); });
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {error: "HTTP " + r.status}; }).then(function (d) {
        if (!r.ok || d.error) throw new Error(d.error || ("HTTP " + r.status));
        return d;
      });
    }).then(function (d) {
      if (d.rows_html != null) apply(d);
      return d;
    }).catch(function (e) { say(e.message); }).then(function (d) {
      pending = false;
      document.querySelectorAll("[aria-busy]").forEach(function (b) { b.removeAttribute("aria-busy"); });
      return d;
    });
  }

  function edit(body) {
    if (!selected) { say("בחרו קטע תחילה · Select a passage first"); return; }
    body.passage_id = selected;
    post(review.dataset.editUrl, body);
  }

  var setStart = document.getElementById("set-start");
  if (setStart) setStart.addEventListener("click", function () {
    edit({action: "set_start", time: audio ? audio.currentTime : 0});
  });
  ["nudge-back", "nudge-fwd"].forEach(function (id) {
    var b = document.getElementById(id);
    if (b) b.addEventListener("click", function () { edit({action: "nudge", delta: parseFloat(b.dataset.delta)}); });
  });
  var notRead = document.getElementById("not-read");
  if (notRead) notRead.addEventListener("click", function () { edit({action: "not_read"}); });
  document.addEventListener("keydown", function (ev) {
    // "S": start the selected passage here. The player's own keys (Space, J, K, L, arrows) stay its own.
    if (ev.key !== "s" && ev.key !== "S") return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    if (setStart && !setStart.disabled) { ev.preventDefault(); setStart.click(); }
  });

  var undo = document.getElementById("undo");
  if (undo) undo.addEventListener("click", function () { post(review.dataset.undoUrl, {}); });

  var realign = document.getElementById("realign-form");
  if (realign) realign.addEventListener("submit", function (ev) {
    // Queued from here; the page follows the job and takes the new times in place when it is done.
    ev.preventDefault();
    post(realign.action, {}).then(function (d) {
      if (!d || !d.job) return;
      startState = "queued";
      poll();
    });
  });
})();
