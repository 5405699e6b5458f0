// Shiur Sync player: highlights the passage (and word) being spoken, driven by the <audio>
// element's TextTrack cue events. No server polling: after the page, the VTT files and the word
// timings have loaded, everything runs in the browser.
//
// Reusable: ShiurPlayer.init(rootEl, {text: articleEl}) returns an object with seek(),
// seekPassage(), on("passage"|"word"|"tap"|"ready", fn) and the audio element; the lecturer's review screen
// builds on it. Pages that want manual setup put data-manual on the root. The listener's tools
// (contents, search, share, reading settings, sleep timer) bind only where their markup exists.
(function () {
  "use strict";

  var CUE_RE = /^(p\d+\.\d+)(?:\.(r|x)(\d*))?$/;
  var RESUME_MIN = 5;
  // Word timings are sparse in fast speech; keep the last word lit across short gaps.
  var WORD_GAP = 0.35;
  var RATES = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3];
  // "Previous passage" within this many seconds of a passage's start goes to the one before it.
  var PREV_RESTART = 2;
  // Reading comfort: text size as a multiple of the default, line height; [min, max, step].
  var TEXT_SIZE = [0.8, 1.8, 0.1];
  var LINE_HEIGHT = [1.4, 2.8, 0.15];
  var MAX_HITS = 50;
  var NOTICE_MS = 8000;
  // How long our own smooth scroll may take before a scroll event is trusted as the user's again.
  var AUTO_SCROLL_MS = 1200;

  function parseCueId(id) {
    var m = CUE_RE.exec(id || "");
    return m ? { pid: m[1], kind: m[2] === "x" ? "explained" : "read" } : null;
  }

  function fmt(t) {
    if (!isFinite(t) || t < 0) t = 0;
    t = Math.floor(t);
    var h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  // "615", "10:15", "1:02:03" or "1h2m3s" -> seconds (NaN if none of these).
  function parseTime(s) {
    s = (s || "").trim();
    var m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(s);
    if (m && s && !/^\d+(\.\d+)?$/.test(s)) return (+m[1] || 0) * 3600 + (+m[2] || 0) * 60 + (+m[3] || 0);
    if (/^\d+(:\d{1,2}){0,2}(\.\d+)?$/.test(s)) {
      return s.split(":").reduce(function (acc, part) { return acc * 60 + parseFloat(part); }, 0);
    }
    return NaN;
  }

  // The typed query's key, as player/library.py's search_key gives the text's (niqqud, geresh
  // and gershayim, final letters and the vowel letters ו/י/א inside a word all fold away). The
  // text's keys come from the server; a test holds this mirror to the Python function.
  var FINALS = { "ך": "כ", "ם": "מ", "ן": "נ", "ף": "פ", "ץ": "צ" };
  function searchKey(w) {
    w = (w || "").normalize("NFD").replace(/[\u0591-\u05c7\u05f3\u05f4]/g, "")
      .replace(/[^\p{L}\p{N}]/gu, "").toLowerCase().replace(/[ךםןףץ]/g, function (c) { return FINALS[c]; });
    return w.length <= 2 ? w : w[0] + w.slice(1).replace(/[ויא]/g, "");
  }

  function store(key, value) {
    try {
      if (value === null) localStorage.removeItem(key);
      else localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* storage full or disabled: resume is a nicety */ }
  }
  function load(key) {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }

  // Bilingual text as two isolated runs, so each language's punctuation stays on its own side.
  function bilingual(he, en) {
    var frag = document.createDocumentFragment();
    var a = document.createElement("bdi");
    a.lang = "he";
    a.textContent = he;
    frag.appendChild(a);
    if (en) {
      frag.appendChild(document.createTextNode(" · "));
      var b = document.createElement("bdi");
      b.lang = "en";
      b.dir = "ltr";
      b.className = "en";
      b.textContent = en;
      frag.appendChild(b);
    }
    return frag;
  }

  function trackReady(el) {
    // A <track>'s cues exist once it has loaded; mode "hidden" makes the browser load it.
    return new Promise(function (resolve) {
      var track = el.track;
      if (track.mode === "disabled") track.mode = "hidden";
      if (el.readyState === 2) return resolve(track);
      if (el.readyState === 3) return resolve(track); // error: an empty track still works
      el.addEventListener("load", function () { resolve(track); }, { once: true });
      el.addEventListener("error", function () { resolve(track); }, { once: true });
    });
  }

  function Player(root, opts) {
    opts = opts || {};
    var self = this;
    this.root = root;
    this.audio = root.querySelector("audio");
    this.text = opts.text || document.getElementById("discourse");
    this.slug = root.dataset.slug || "";
    // A page may keep its own position (the lecturer's review page does): data-resume-key.
    this.resumeKey = root.dataset.resumeKey || "shiur-pos:" + this.slug;
    this.handlers = {};
    this.follow = true;
    this.activeCue = null;
    this.activeEl = null;
    this.activeKind = null;
    this.activePara = null;
    this.wordEl = null;
    this.words = {};
    this.raf = 0;
    this.autoScrollUntil = 0;
    this.autoScrollStart = 0;
    this.lastSaved = 0;
    this.sleep = null;
    this.$ = function (id) { return document.getElementById(id); };
    this.ui = {
      play: this.$("play"), back: this.$("back10"), fwd: this.$("fwd10"), seek: this.$("seek"),
      marks: this.$("marks"), cur: this.$("cur"), dur: this.$("dur"), rate: this.$("rate"),
      nowPara: this.$("now-para"), nowKind: this.$("now-kind"), notice: this.$("notice"),
      backCurrent: this.$("back-current"),
    };
    var tracks = root.querySelectorAll("track");
    this.passageTrackEl = root.querySelector('track[kind="metadata"]') || tracks[0];
    this.chapterTrackEl = root.querySelector('track[kind="chapters"]');
    this.audio.removeAttribute("controls");
    root.classList.add("ready");

    this.bindControls();
    this.bindText();
    this.bindScroll();
    this.bindKeys();
    this.bindMediaSession();
    this.bindTools();

    var ready = [trackReady(this.passageTrackEl)];
    if (this.chapterTrackEl) ready.push(trackReady(this.chapterTrackEl));
    this.ready = Promise.all(ready).then(function (tracks) {
      self.track = tracks[0];
      self.chapters = tracks[1] || null;
      self.track.addEventListener("cuechange", function () { self.onCueChange(); });
      if (self.chapters) {
        self.chapters.addEventListener("cuechange", function () { self.onChapterChange(); });
      }
      self.drawMarks();
      self.startPosition();
      self.onCueChange();
      self.emit("ready", self);
      return self;
    });
    if (root.dataset.words) {
      fetch(root.dataset.words).then(function (r) { return r.ok ? r.json() : {}; })
        .then(function (w) { self.words = w || {}; self.updateWord(); })
        .catch(function () { /* no word timings: passages still highlight */ });
    }
  }

  Player.prototype.on = function (name, fn) {
    (this.handlers[name] = this.handlers[name] || []).push(fn);
    return this;
  };
  Player.prototype.emit = function (name, a, b) {
    (this.handlers[name] || []).forEach(function (fn) { fn(a, b); });
  };

  // --- controls ----------------------------------------------------------------------------

  Player.prototype.bindControls = function () {
    var self = this, a = this.audio, ui = this.ui;
    ui.play.addEventListener("click", function () { self.toggle(); });
    ui.back.addEventListener("click", function () { self.skip(-10); });
    ui.fwd.addEventListener("click", function () { self.skip(10); });
    var rate = load("shiur-rate");
    if (rate && RATES.indexOf(rate) >= 0) { a.playbackRate = rate; ui.rate.value = String(rate); }
    ui.rate.addEventListener("change", function () { self.setRate(parseFloat(ui.rate.value) || 1); });
    var dragging = false;
    ui.seek.addEventListener("input", function () {
      dragging = true;
      ui.cur.textContent = fmt(parseFloat(ui.seek.value));
    });
    ui.seek.addEventListener("change", function () {
      dragging = false;
      self.seek(parseFloat(ui.seek.value));
    });
    // The slider's own arrow step (0.1 s) is useless on a 3-hour class: step like the buttons do.
    ui.seek.addEventListener("keydown", function (e) {
      var d = { ArrowLeft: -10, ArrowDown: -10, ArrowRight: 10, ArrowUp: 10, PageDown: -60, PageUp: 60 }[e.key];
      if (e.key === "Home") self.seek(0);
      else if (e.key === "End") self.seek(a.duration || 0);
      else if (d) self.skip(d);
      else return;
      e.preventDefault();
    });
    a.addEventListener("loadedmetadata", function () {
      if (isFinite(a.duration)) {
        ui.seek.max = String(a.duration);
        ui.dur.textContent = fmt(a.duration);
        self.drawMarks();
        self.checkPastEnd();
        self.updatePositionState();
      }
    });
    a.addEventListener("timeupdate", function () {
      if (!dragging) {
        ui.seek.value = String(a.currentTime);
        ui.cur.textContent = fmt(a.currentTime);
      }
      ui.seek.setAttribute("aria-valuetext", fmt(a.currentTime) + " / " + ui.dur.textContent);
      if (!a.paused && Date.now() - self.lastSaved > 3000) self.savePosition();
    });
    a.addEventListener("play", function () { self.setPlaying(true); self.loop(); self.updatePositionState(); });
    a.addEventListener("pause", function () {
      self.setPlaying(false); self.savePosition(); self.updatePositionState();
    });
    a.addEventListener("ratechange", function () { self.updatePositionState(); });
    a.addEventListener("ended", function () { store(self.resumeKey, null); });
    a.addEventListener("seeked", function () { self.updateWord(); self.updatePositionState(); });
    a.addEventListener("error", function () {
      self.notify("לא ניתן לטעון את ההקלטה.", "The recording could not be loaded.");
    });
    window.addEventListener("pagehide", function () { self.savePosition(); });
  };

  Player.prototype.setPlaying = function (playing) {
    this.ui.play.querySelector(".icon").textContent = playing ? "❚❚" : "▶";
    this.ui.play.setAttribute("aria-label", playing ? "השהה · Pause" : "נגן · Play");
    this.root.classList.toggle("playing", playing);
  };

  Player.prototype.play = function () {
    var p = this.audio.play();
    if (p && p.catch) p.catch(function () { /* autoplay refused: the button stays "Play" */ });
  };

  Player.prototype.toggle = function () {
    if (this.audio.paused) this.play();
    else this.audio.pause();
  };

  Player.prototype.seek = function (t) {
    var a = this.audio;
    var max = isFinite(a.duration) ? a.duration : Infinity;
    a.currentTime = Math.max(0, Math.min(t, max));
    // "Sleep at the end of the passage" follows the listener: after a seek it is the passage landed in.
    if (this.sleep && this.sleep.passage) this.sleep.cue = null;
    this.ui.seek.value = String(a.currentTime);
    this.ui.cur.textContent = fmt(a.currentTime);
  };

  Player.prototype.skip = function (dt) { this.seek(this.audio.currentTime + dt); };

  Player.prototype.setRate = function (r) {
    this.audio.playbackRate = r;
    this.ui.rate.value = String(r);
    store("shiur-rate", r);
  };

  Player.prototype.stepRate = function (dir) {
    var i = RATES.indexOf(this.audio.playbackRate);
    if (i < 0) i = RATES.indexOf(1);
    var next = RATES[Math.max(0, Math.min(RATES.length - 1, i + dir))];
    this.setRate(next);
    this.notify("מהירות " + next + "×", "Speed " + next + "×");
  };

  Player.prototype.savePosition = function () {
    this.lastSaved = Date.now();
    var t = this.audio.currentTime;
    if (t > RESUME_MIN) store(this.resumeKey, { t: Math.round(t * 10) / 10, at: Date.now() });
  };

  // --- cues and highlighting ---------------------------------------------------------------

  Player.prototype.cueList = function () {
    return this.track && this.track.cues ? Array.prototype.slice.call(this.track.cues) : [];
  };

  Player.prototype.cueForPassage = function (pid) {
    var cues = this.track && this.track.cues;
    if (!cues) return null;
    var exact = cues.getCueById(pid);
    if (exact) return exact;
    for (var i = 0; i < cues.length; i++) {
      var c = parseCueId(cues[i].id);
      if (c && c.pid === pid) return cues[i];
    }
    return null;
  };

  Player.prototype.cueForParagraph = function (n) {
    var prefix = "p" + n + ".";
    var best = null;
    this.cueList().forEach(function (cue) {
      var c = parseCueId(cue.id);
      if (c && c.kind === "read" && c.pid.indexOf(prefix) === 0 && (!best || cue.startTime < best.startTime)) best = cue;
    });
    if (best) return best;
    var ch = this.chapters && this.chapters.cues && this.chapters.cues.getCueById("p" + n);
    return ch || null;
  };

  Player.prototype.seekPassage = function (pid) {
    var cue = this.cueForPassage(pid);
    if (!cue) {
      this.notify("קטע זה לא נקרא בשיעור.", "This passage was not read in the class.");
      return false;
    }
    // A hair past the start: a seek can land a rounding step early, inside the previous cue.
    this.seek(cue.startTime + 0.001);
    this.resumeFollow();
    return true;
  };

  Player.prototype.seekParagraph = function (n) {
    var cue = this.cueForParagraph(n);
    if (!cue) {
      this.notify("פסקה זו לא נקראה בשיעור.", "This paragraph was not read in the class.");
      return false;
    }
    this.seek(cue.startTime + 0.001);
    this.resumeFollow();
    return true;
  };

  // Read cues in time order: what "next/previous passage" steps through (explanations are not stops).
  Player.prototype.readCues = function () {
    return this.cueList().filter(function (c) {
      var info = parseCueId(c.id);
      return info && info.kind === "read";
    }).sort(function (a, b) { return a.startTime - b.startTime; });
  };

  Player.prototype.nextPassage = function () {
    var t = this.audio.currentTime, cues = this.readCues();
    for (var i = 0; i < cues.length; i++) {
      if (cues[i].startTime > t + 0.05) { this.seek(cues[i].startTime + 0.001); this.resumeFollow(); return true; }
    }
    return false;
  };

  Player.prototype.prevPassage = function () {
    var t = this.audio.currentTime, cues = this.readCues(), target = null;
    for (var i = 0; i < cues.length; i++) {
      var c = cues[i];
      if (c.startTime > t) break;
      // Inside (or just after) a reading: back to its start, unless we are already near it.
      if (t - c.startTime > PREV_RESTART) target = c;
      else if (i > 0) target = cues[i - 1];
    }
    if (!target) target = cues[0];
    if (!target) return false;
    this.seek(target.startTime + 0.001);
    this.resumeFollow();
    return true;
  };

  Player.prototype.currentCue = function () {
    var active = this.track && this.track.activeCues;
    if (!active || !active.length) return null;
    var best = active[0];
    for (var i = 1; i < active.length; i++) if (active[i].startTime >= best.startTime) best = active[i];
    return best;
  };

  Player.prototype.onCueChange = function () { this.setActive(this.currentCue()); };

  Player.prototype.setActive = function (cue) {
    if (cue === this.activeCue) return;
    var previous = this.activeCue;
    this.activeCue = cue;
    var info = cue ? parseCueId(cue.id) : null;
    var el = info ? document.getElementById(info.pid) : null;
    var kind = info ? info.kind : null;
    if (this.activeEl && (this.activeEl !== el || this.activeKind !== kind)) {
      this.activeEl.classList.remove("is-read", "is-explained");
      this.activeEl.removeAttribute("aria-current");
    }
    this.clearWord();
    this.activeEl = el;
    this.activeKind = kind;
    var nk = this.ui.nowKind;
    nk.replaceChildren();
    if (el) {
      el.classList.add(kind === "explained" ? "is-explained" : "is-read");
      el.setAttribute("aria-current", "true");
      this.setParagraph(el.closest(".para"));
      nk.appendChild(kind === "explained" ? bilingual("הסבר", "explaining") : bilingual("קריאה", "reading"));
      nk.className = "kind " + kind;
      this.scrollToActive(false);
    } else {
      // Between cues: only a paragraph (chapter) cue that spans this moment may still be named;
      // otherwise the label and the paragraph badge are cleared, never left on an earlier one.
      nk.className = "kind";
      this.setParagraph(this.chapterParagraph(this.audio.currentTime));
    }
    this.updateWord();
    this.sleepOnCueChange(previous, cue);
    this.emit("passage", info, cue);
  };

  Player.prototype.chapterParagraph = function (t) {
    var cues = this.chapters && this.chapters.cues;
    if (!cues) return null;
    for (var i = 0; i < cues.length; i++) {
      if (cues[i].startTime <= t && t < cues[i].endTime) return document.getElementById(cues[i].id.split(".")[0]);
    }
    return null;
  };

  Player.prototype.setParagraph = function (para) {
    if (para === this.activePara) return;
    if (this.activePara) this.activePara.classList.remove("is-current");
    this.activePara = para;
    var id = para ? para.id : null;
    var marks = this.ui.marks.children;
    for (var i = 0; i < marks.length; i++) marks[i].classList.toggle("is-current", marks[i].dataset.p === id);
    var links = document.querySelectorAll(".toc-link");
    for (var j = 0; j < links.length; j++) {
      if (links[j].dataset.p === id) links[j].setAttribute("aria-current", "true");
      else links[j].removeAttribute("aria-current");
    }
    if (!para) { this.ui.nowPara.textContent = ""; return; }
    para.classList.add("is-current");
    var sec = para.querySelector(".sec");
    this.ui.nowPara.textContent = "פסקה " + para.dataset.n + (sec ? " · סעיף " + sec.textContent : "");
  };

  Player.prototype.onChapterChange = function () {
    if (this.activeEl) return;
    // Between passage cues (an off-text digression) the chapter still says where we are.
    this.setParagraph(this.chapterParagraph(this.audio.currentTime));
  };

  // Runs every frame while playing: the current word, and a safety net for cue boundaries that
  // the browser reports late (cue events ride on "time marches on", which may lag a frame or two).
  Player.prototype.loop = function () {
    var self = this;
    if (this.raf) return;
    function tick() {
      self.raf = 0;
      if (self.audio.paused) return;
      var cue = self.activeCue, t = self.audio.currentTime;
      if (cue && (t < cue.startTime || t >= cue.endTime)) self.setActive(self.findCue(t));
      else if (!cue && self.track && self.track.activeCues && self.track.activeCues.length) self.onCueChange();
      self.updateWord();
      self.raf = requestAnimationFrame(tick);
    }
    this.raf = requestAnimationFrame(tick);
  };

  Player.prototype.findCue = function (t) {
    var cues = this.track && this.track.cues, best = null;
    if (!cues) return null;
    for (var i = 0; i < cues.length; i++) {
      var c = cues[i];
      if (c.startTime <= t && t < c.endTime && (!best || c.startTime >= best.startTime)) best = c;
    }
    return best;
  };

  Player.prototype.clearWord = function () {
    if (this.wordEl) this.wordEl.classList.remove("is-word");
    this.wordEl = null;
  };

  Player.prototype.updateWord = function () {
    var cue = this.activeCue, el = this.activeEl;
    var list = cue && el && this.words[cue.id];
    if (!list || !list.length) { this.clearWord(); return; }
    var t = this.audio.currentTime, lo = 0, hi = list.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (list[mid][1] <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    var w = found >= 0 && t < list[found][2] + WORD_GAP ? list[found] : null;
    var tokens = el.getElementsByClassName("w");
    var next = w ? tokens[w[0]] || null : null;
    if (next === this.wordEl) return;
    this.clearWord();
    if (next) { next.classList.add("is-word"); this.wordEl = next; this.emit("word", w[0], next); }
  };

  // --- timeline markers --------------------------------------------------------------------

  Player.prototype.drawMarks = function () {
    var self = this, box = this.ui.marks;
    var dur = this.audio.duration;
    if (!isFinite(dur) || !dur) dur = parseFloat(this.root.dataset.duration) || 0;
    var cues = this.chapters && this.chapters.cues;
    if (!cues || !cues.length) {
      // No chapters file: mark where each paragraph is first read.
      var firsts = {};
      this.cueList().forEach(function (cue) {
        var c = parseCueId(cue.id);
        if (!c || c.kind !== "read") return;
        var p = c.pid.split(".")[0];
        if (!(p in firsts) || cue.startTime < firsts[p]) firsts[p] = cue.startTime;
      });
      cues = Object.keys(firsts).map(function (p) { return { id: p, startTime: firsts[p] }; });
    }
    if (!dur && cues.length) dur = cues[cues.length - 1].endTime || 0;
    if (!dur) return;
    var frag = document.createDocumentFragment();
    Array.prototype.forEach.call(cues, function (cue) {
      var m = document.createElement("span");
      m.className = "mark";
      m.dataset.p = cue.id.split(".")[0]; // "p3.r2": the lecturer came back to paragraph 3
      m.style.left = (100 * cue.startTime / dur).toFixed(3) + "%";
      m.title = "פסקה " + m.dataset.p.slice(1) + " · " + fmt(cue.startTime);
      m.addEventListener("click", function () { self.seek(cue.startTime + 0.001); });
      frag.appendChild(m);
    });
    box.replaceChildren(frag);
    box.setAttribute("aria-hidden", "true");
    if (this.activePara) {
      var id = this.activePara.id;
      Array.prototype.forEach.call(box.children, function (m) { m.classList.toggle("is-current", m.dataset.p === id); });
    }
  };

  // --- tapping the text ---------------------------------------------------------------------

  // One behaviour, as the hint says: tapping a passage plays from its reading, paused or not.
  Player.prototype.bindText = function () {
    var self = this;
    if (!this.text) return;
    this.text.addEventListener("click", function (e) {
      var pn = e.target.closest(".pn");
      if (pn) {
        // The number is a link for people who open it in a new tab; here it seeks, and the URL
        // stays as it was, so a reload resumes at the saved position, not at this paragraph.
        e.preventDefault();
        if (self.seekParagraph(pn.closest(".para").dataset.n)) self.play();
        return;
      }
      var sel = window.getSelection && window.getSelection();
      if (sel && !sel.isCollapsed) return; // selecting text to copy or share is not a seek
      var ps = e.target.closest(".ps");
      if (!ps) return;
      // Pages built on the player (the review screen) may take over taps: preventDefault() in a "tap" handler.
      self.emit("tap", ps.id, e);
      if (!e.defaultPrevented && self.seekPassage(ps.id)) self.play();
    });
  };

  // --- auto-scroll -------------------------------------------------------------------------

  Player.prototype.visibleBox = function () {
    var bar = this.root.getBoundingClientRect();
    return { top: 0, bottom: Math.min(window.innerHeight, bar.top) };
  };

  Player.prototype.isVisible = function (el) {
    var r = el.getBoundingClientRect(), v = this.visibleBox();
    return r.bottom > v.top + 8 && r.top < v.bottom - 8;
  };

  Player.prototype.scrollToActive = function (force) {
    var el = this.wordEl || this.activeEl;
    if (!el || (!this.follow && !force)) return;
    var r = el.getBoundingClientRect(), v = this.visibleBox();
    var margin = Math.min(80, (v.bottom - v.top) / 5);
    if (!force && r.top >= v.top + margin && r.bottom <= v.bottom - margin) return;
    var self = this;
    var reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var ms = reduce ? 200 : AUTO_SCROLL_MS;
    this.autoScrollStart = Date.now();
    this.autoScrollUntil = this.autoScrollStart + ms;
    this.activeEl.scrollIntoView({ block: "center", behavior: reduce ? "auto" : "smooth" });
    clearTimeout(this.autoScrollTimer);
    this.autoScrollTimer = setTimeout(function () { self.afterAutoScroll(); }, ms + 50);
  };

  // When our scroll has settled: if the passage changed under it (the target moved), go on
  // to the new one, and make sure "back to current" is not left on screen while following.
  Player.prototype.afterAutoScroll = function () {
    this.autoScrollUntil = 0;
    if (!this.follow || !this.activeEl) return;
    this.hideBackButton();
    if (!this.isVisible(this.activeEl)) this.scrollToActive(true);
  };

  Player.prototype.resumeFollow = function () {
    this.follow = true;
    this.hideBackButton();
  };

  Player.prototype.bindScroll = function () {
    var self = this;
    var intent = 0;
    function userIntent() { intent = Date.now(); }
    // Only what scrolls the page counts: a tap or click (on "back to current", on a passage)
    // is not a scroll, so touchstart and clicks on content are left out.
    ["wheel", "touchmove"].forEach(function (ev) { window.addEventListener(ev, userIntent, { passive: true }); });
    window.addEventListener("mousedown", function (e) {
      if (e.target === document.documentElement) userIntent(); // the scrollbar
    }, { passive: true });
    window.addEventListener("keydown", function (e) {
      if (/^(PageUp|PageDown|Home|End|ArrowUp|ArrowDown)$/.test(e.key)) userIntent();
    });
    window.addEventListener("scrollend", function () {
      if (self.autoScrollUntil && intent < self.autoScrollStart) {
        clearTimeout(self.autoScrollTimer);
        self.afterAutoScroll();
      }
    });
    window.addEventListener("scroll", function () {
      var now = Date.now();
      // Our own smooth scroll fires scroll events too: while it runs, only a wheel/touch/key
      // that came after it started is the listener taking over.
      if (now < self.autoScrollUntil && intent < self.autoScrollStart) return;
      if (now - intent > 1500 && self.follow) return; // layout shifts, not the listener
      if (!self.activeEl) return;
      if (self.isVisible(self.activeEl)) {
        if (!self.follow) self.resumeFollow();
      } else if (self.follow || self.ui.backCurrent.hidden) {
        self.follow = false;
        self.ui.backCurrent.hidden = false;
      }
    }, { passive: true });
    this.ui.backCurrent.addEventListener("click", function () {
      self.resumeFollow();
      self.scrollToActive(true);
      if (self.activeEl) { self.activeEl.setAttribute("tabindex", "-1"); self.activeEl.focus({ preventScroll: true }); }
    });
  };

  Player.prototype.hideBackButton = function () {
    var b = this.ui.backCurrent;
    if (b.hidden) return;
    if (document.activeElement === b) this.ui.play.focus();
    b.hidden = true;
  };

  // --- keyboard ----------------------------------------------------------------------------

  Player.prototype.bindKeys = function () {
    var self = this;
    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
      var tag = e.target.tagName;
      if (/^(INPUT|SELECT|TEXTAREA)$/.test(tag) || e.target.isContentEditable) {
        if (e.key === "Escape") self.closePanels(true);
        return;
      }
      if (document.querySelector("dialog[open]")) return; // the shortcut list handles its own keys
      var onButton = tag === "BUTTON" || tag === "A";
      // e.code, not e.key: on a Hebrew keyboard layout J/K/L type י/ל/ך.
      if (e.shiftKey) {
        if (e.code === "Comma") self.stepRate(-1);
        else if (e.code === "Period") self.stepRate(1);
        else if (e.code === "Slash") self.showKeys();
        else return;
        e.preventDefault();
        return;
      }
      switch (e.code) {
        case "Space":
          if (onButton) return; // the focused button's own activation
          self.toggle(); break;
        case "KeyK": self.toggle(); break;
        case "KeyJ": case "ArrowLeft": self.skip(-10); break;
        case "KeyL": case "ArrowRight": self.skip(10); break;
        case "KeyN": self.nextPassage(); break;
        case "KeyP": self.prevPassage(); break;
        case "KeyC": if (!self.openPanel("panel-toc")) return; break;
        case "Slash": if (!self.openPanel("panel-search")) return; break;
        case "Escape": if (!self.closePanels(true)) return; break;
        default: return;
      }
      e.preventDefault();
    });
  };

  // Lock-screen and headset controls on phones: a class is often heard with the screen off.
  Player.prototype.bindMediaSession = function () {
    var self = this, ms = navigator.mediaSession;
    if (!ms || typeof MediaMetadata === "undefined") return;
    var h1 = document.querySelector("h1");
    var icon = document.querySelector('link[rel="apple-touch-icon"]');
    ms.metadata = new MediaMetadata({
      title: h1 ? h1.textContent.trim() : document.title, artist: this.root.dataset.lecturer || "",
      artwork: icon ? [{ src: icon.href, sizes: "180x180", type: "image/png" }] : [],
    });
    var actions = {
      play: function () { self.play(); },
      pause: function () { self.audio.pause(); },
      seekbackward: function (d) { self.skip(-((d && d.seekOffset) || 10)); },
      seekforward: function (d) { self.skip((d && d.seekOffset) || 10); },
      seekto: function (d) { self.seek(d.seekTime); },
      previoustrack: function () { self.prevPassage(); },
      nexttrack: function () { self.nextPassage(); },
    };
    Object.keys(actions).forEach(function (k) {
      try { ms.setActionHandler(k, actions[k]); } catch (e) { /* action not supported here */ }
    });
  };

  // The lock screen's progress bar: told on every change of position, speed or state.
  Player.prototype.updatePositionState = function () {
    var ms = navigator.mediaSession, a = this.audio;
    if (!ms || !ms.setPositionState || !isFinite(a.duration) || !a.duration) return;
    try {
      ms.setPositionState({ duration: a.duration, playbackRate: a.playbackRate,
                            position: Math.min(a.currentTime, a.duration) });
    } catch (e) { /* a state the browser refuses (e.g. rate 0): the bar is a nicety */ }
  };

  // --- where to start ----------------------------------------------------------------------

  // A message under the controls: Hebrew and English as separate isolated runs.
  Player.prototype.notify = function (he, en, actionHe, actionEn, onAction) {
    var n = this.ui.notice;
    n.replaceChildren(bilingual(he, en));
    if (actionHe) {
      var b = document.createElement("button");
      b.type = "button";
      b.appendChild(bilingual(actionHe, actionEn));
      b.addEventListener("click", function () { onAction(); n.hidden = true; });
      n.appendChild(document.createTextNode(" "));
      n.appendChild(b);
    }
    n.hidden = false;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(function () { n.hidden = true; }, NOTICE_MS);
  };

  Player.prototype.knownDuration = function () {
    var d = this.audio.duration;
    return isFinite(d) && d > 0 ? d : parseFloat(this.root.dataset.duration) || 0;
  };

  Player.prototype.startPosition = function () {
    var self = this;
    var params = new URLSearchParams(location.search);
    var t = parseTime(params.get("t"));
    var how = "start";
    if (isFinite(t) && t >= 0) {
      this.requestedTime = t;
      if (!this.checkPastEnd()) this.seek(t);
      how = "time";
    } else if (this.followHash()) {
      how = "hash";
    } else {
      var saved = load(this.resumeKey);
      if (saved && saved.t > RESUME_MIN) {
        this.seek(saved.t);
        this.notify("ממשיכים מ־" + fmt(saved.t), "Resuming at " + fmt(saved.t), "מההתחלה", "Start over",
          function () { self.seek(0); store(self.resumeKey, null); });
        how = "resume";
      }
    }
    // The deep link has done its job: take it out of the address bar, so that a reload resumes
    // where the listener got to rather than jumping back to the link's place.
    if (how === "time" || how === "hash") {
      params.delete("t");
      var q = params.toString();
      history.replaceState(history.state, "", location.pathname + (q ? "?" + q : ""));
    }
    return how;
  };

  // ?t= past the end of the class: say so and start from the beginning (true if it was).
  Player.prototype.checkPastEnd = function () {
    var t = this.requestedTime, dur = this.knownDuration();
    if (t === undefined || !dur || t <= dur) return false;
    this.requestedTime = undefined;
    this.seek(0);
    this.notify("הזמן " + fmt(t) + " אחרי סוף השיעור (" + fmt(dur) + "), לכן מתחילים מההתחלה.",
      "The link's time " + fmt(t) + " is past the end of this class (" + fmt(dur) + "), so it starts from the beginning.");
    return true;
  };

  Player.prototype.followHash = function () {
    var id = decodeURIComponent(location.hash.slice(1));
    var ok = false;
    if (/^p\d+\.\d+$/.test(id)) ok = this.seekPassage(id);
    else if (/^p\d+$/.test(id)) ok = this.seekParagraph(id.slice(1));
    if (ok) {
      var el = document.getElementById(id);
      if (el) { this.autoScrollStart = Date.now(); this.autoScrollUntil = this.autoScrollStart + 300; el.scrollIntoView({ block: "center" }); }
    }
    return ok;
  };

  // --- the listener's tools: panels ------------------------------------------------------------

  Player.prototype.bindTools = function () {
    var self = this;
    var buttons = document.querySelectorAll(".tools [aria-controls]");
    this.toolButtons = Array.prototype.slice.call(buttons);
    this.toolButtons.forEach(function (b) {
      b.addEventListener("click", function () {
        var open = b.getAttribute("aria-expanded") === "true";
        if (open) self.closePanels(true);
        else self.openPanel(b.getAttribute("aria-controls"));
      });
    });
    if (window.ResizeObserver) {
      // Panels and the "back" button sit just above the bar, whatever its height on this screen.
      new ResizeObserver(function () {
        document.documentElement.style.setProperty("--bar-h", self.root.offsetHeight + "px");
      }).observe(this.root);
    }
    this.bindContents();
    this.bindSearch();
    this.bindShare();
    this.bindComfort();
    this.bindSleep();
    this.bindOffline();
    var keysBtn = this.$("show-keys");
    if (keysBtn) keysBtn.addEventListener("click", function () { self.showKeys(); });
  };

  Player.prototype.openPanel = function (id) {
    var panel = this.$(id);
    if (!panel) return false;
    this.closePanels(false);
    panel.hidden = false;
    this.toolButtons.forEach(function (b) { b.setAttribute("aria-expanded", String(b.getAttribute("aria-controls") === id)); });
    var first = panel.querySelector("[aria-current]") || panel.querySelector("input, button, a[href], select");
    if (first) first.focus({ preventScroll: true });
    if (id === "panel-search") this.loadKeys();
    if (id === "panel-toc") {
      var cur = panel.querySelector("[aria-current]");
      if (cur) cur.scrollIntoView({ block: "nearest" });
    }
    return true;
  };

  // Close whichever panel is open; with refocus, focus returns to its button. True if one was open.
  Player.prototype.closePanels = function (refocus) {
    var was = false;
    this.toolButtons.forEach(function (b) {
      var panel = document.getElementById(b.getAttribute("aria-controls"));
      if (panel && !panel.hidden) {
        panel.hidden = true;
        was = true;
        if (refocus) b.focus();
      }
      b.setAttribute("aria-expanded", "false");
    });
    return was;
  };

  Player.prototype.showKeys = function () {
    var d = this.$("keys-dialog");
    if (!d || d.open) return;
    d.showModal();
  };

  // --- contents panel --------------------------------------------------------------------------

  Player.prototype.bindContents = function () {
    var self = this;
    var toc = document.querySelector(".toc");
    if (!toc) return;
    toc.addEventListener("click", function (e) {
      var a = e.target.closest(".toc-link");
      if (!a) return;
      e.preventDefault();
      var para = document.getElementById(a.dataset.p);
      self.closePanels(false);
      if (self.seekParagraph(a.dataset.p.slice(1))) self.play();
      else if (para) { self.follow = false; para.scrollIntoView({ block: "start" }); }
    });
  };

  // --- search inside the text ------------------------------------------------------------------

  Player.prototype.loadKeys = function () {
    var self = this;
    if (this.keysPromise || !this.root.dataset.keys) return this.keysPromise;
    this.keysPromise = fetch(this.root.dataset.keys).then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (keys) {
        // In text order: [{pid, keys: [...]}], the token keys of each passage.
        self.searchIndex = Object.keys(keys).map(function (pid) { return { pid: pid, keys: keys[pid].split(" ") }; });
        return self.searchIndex;
      }).catch(function () { self.keysPromise = null; return null; });
    return this.keysPromise;
  };

  // Every place the query's words occur in a row; the last word may be the start of a word.
  Player.prototype.find = function (query) {
    var q = query.split(/[\s\u05be\-/]+/).map(searchKey).filter(Boolean);
    var hits = [];
    if (!q.length || !this.searchIndex) return hits;
    this.searchIndex.forEach(function (p) {
      var k = p.keys;
      for (var i = 0; i + q.length <= k.length && hits.length < MAX_HITS; i++) {
        var ok = true;
        for (var j = 0; j < q.length && ok; j++) {
          var last = j === q.length - 1;
          ok = k[i + j] === q[j] || (last && q[j].length >= 2 && k[i + j].indexOf(q[j]) === 0);
        }
        if (ok) hits.push({ pid: p.pid, start: i, end: i + q.length });
      }
    });
    return hits;
  };

  // Where a hit was read: the time of its first word in the passage's reading (else the reading's start).
  Player.prototype.hitTime = function (hit) {
    var cue = this.cueForPassage(hit.pid);
    if (!cue) return null;
    var list = this.words[cue.id] || [];
    for (var i = 0; i < list.length; i++) if (list[i][0] === hit.start) return list[i][1];
    return cue.startTime;
  };

  Player.prototype.bindSearch = function () {
    var self = this, input = this.$("find"), list = this.$("find-results"), status = this.$("find-status");
    if (!input) return;
    var timer = 0, marked = [];
    function clearMarks() {
      marked.forEach(function (w) { w.classList.remove("is-hit"); });
      marked = [];
    }
    function run() {
      clearMarks();
      list.replaceChildren();
      var query = input.value.trim();
      if (!query) { status.replaceChildren(); return; }
      Promise.resolve(self.loadKeys()).then(function () {
        var hits = self.find(query);
        status.replaceChildren(hits.length
          ? bilingual("נמצאו " + hits.length + (hits.length >= MAX_HITS ? "+" : "") + " מקומות",
            hits.length + (hits.length >= MAX_HITS ? "+" : "") + (hits.length === 1 ? " match" : " matches"))
          : bilingual("לא נמצא בטקסט", "Not found in the text"));
        if (hits.length === 1) status.firstChild.textContent = "נמצא מקום אחד";
        hits.forEach(function (hit) {
          var ps = document.getElementById(hit.pid);
          if (!ps) return;
          var tokens = ps.getElementsByClassName("w");
          for (var i = hit.start; i < hit.end; i++) if (tokens[i]) { tokens[i].classList.add("is-hit"); marked.push(tokens[i]); }
          var t = self.hitTime(hit);
          var li = document.createElement("li");
          var b = document.createElement("button");
          b.type = "button";
          b.className = "hit";
          var when = document.createElement("span");
          when.className = "hit-time";
          when.dir = "ltr";
          when.textContent = t === null ? "—" : fmt(t);
          var where = document.createElement("span");
          where.className = "hit-where";
          where.textContent = "פסקה " + ps.closest(".para").dataset.n;
          var snippet = document.createElement("span");
          snippet.className = "hit-text";
          var from = Math.max(0, hit.start - 3), to = Math.min(tokens.length, hit.end + 4);
          for (var k = from; k < to; k++) {
            var node = k >= hit.start && k < hit.end ? document.createElement("mark") : document.createElement("span");
            node.textContent = tokens[k].textContent;
            snippet.appendChild(node);
            if (k < to - 1) snippet.appendChild(document.createTextNode(" "));
          }
          b.append(where, " ", when, " ", snippet);
          if (t === null) b.title = "לא נקרא בשיעור · not read in the class";
          b.addEventListener("click", function () {
            if (t === null) {
              self.notify("קטע זה לא נקרא בשיעור.", "This passage was not read in the class.");
              self.follow = false;
              ps.scrollIntoView({ block: "center" });
              return;
            }
            self.seek(t + 0.001);
            self.resumeFollow();
            self.play();
            if (window.matchMedia("(max-width: 600px)").matches) self.closePanels(false);
          });
          li.appendChild(b);
          list.appendChild(li);
        });
      });
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 150); });
    this.$("find-form").addEventListener("submit", function (e) {
      e.preventDefault();
      clearTimeout(timer);
      run();
      var first = list.querySelector("button");
      if (first) first.focus();
    });
  };

  // --- share -------------------------------------------------------------------------------------

  // Shared links read as the address bar shows them (Hebrew slugs, not %D7%A9...).
  function pageLink() {
    var path = location.pathname;
    try { path = decodeURI(path); } catch (e) { /* malformed: keep it encoded */ }
    return location.origin + path;
  }
  Player.prototype.linkAt = function (t) {
    return pageLink() + "?t=" + Math.floor(t);
  };
  Player.prototype.linkTo = function (pid) {
    return pageLink() + "#" + pid;
  };

  Player.prototype.copyLink = function (url, he, en) {
    var self = this, field = this.$("share-url");
    if (field) { field.value = url; }
    function shown() { self.notify(he, en + ": " + url); }
    function fallback() {
      if (field) { field.focus(); field.select(); }
      self.notify("העתיקו את הקישור שבשדה.", "Copy the link from the field: " + url);
    }
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(url).then(shown, fallback);
    else fallback();
    this.emit("share", url);
  };

  Player.prototype.bindShare = function () {
    var self = this;
    var atTime = this.$("share-time"), atPassage = this.$("share-passage"), selBtn = this.$("share-selection");
    if (atTime) {
      atTime.addEventListener("click", function () {
        self.copyLink(self.linkAt(self.audio.currentTime), "הקישור לרגע זה הועתק", "Link at this moment copied");
      });
    }
    if (atPassage) {
      atPassage.addEventListener("click", function () {
        var pid = self.activeEl ? self.activeEl.id : self.activePara ? self.activePara.id : null;
        if (!pid) { self.notify("אין קטע נוכחי.", "No passage is playing."); return; }
        self.copyLink(self.linkTo(pid), "הקישור לקטע הועתק", "Link to this passage copied");
      });
    }
    if (!selBtn || !this.text) return;
    // Select words in the text: a button offers a link to the passage they start in.
    var selPid = null;
    function update() {
      var sel = window.getSelection();
      var node = sel && !sel.isCollapsed && sel.rangeCount ? sel.getRangeAt(0).startContainer : null;
      var el = node && (node.nodeType === 1 ? node : node.parentElement);
      var ps = el && self.text.contains(el) ? el.closest(".ps") : null;
      if (!ps) { selBtn.hidden = true; selPid = null; return; }
      selPid = ps.id;
      var r = sel.getRangeAt(0).getBoundingClientRect();
      selBtn.hidden = false;
      var top = r.top - selBtn.offsetHeight - 8;
      selBtn.style.top = Math.max(8, top < 8 ? r.bottom + 8 : top) + "px";
      selBtn.style.left = Math.max(8, Math.min(window.innerWidth - selBtn.offsetWidth - 8, r.left)) + "px";
    }
    var pending = 0;
    document.addEventListener("selectionchange", function () { clearTimeout(pending); pending = setTimeout(update, 120); });
    selBtn.addEventListener("mousedown", function (e) { e.preventDefault(); }); // keep the selection
    selBtn.addEventListener("click", function () {
      if (!selPid) return;
      self.copyLink(self.linkTo(selPid), "הקישור לקטע הועתק", "Passage link copied");
      selBtn.hidden = true;
    });
  };

  // --- reading comfort ---------------------------------------------------------------------------

  Player.prototype.bindComfort = function () {
    var self = this, rootStyle = document.documentElement.style;
    // range: [min, max, step]; fallback(): the value the stylesheet gives when none was chosen.
    // Nothing is measured until the listener opens the panel: no style work on the first render.
    function setting(key, cssVar, range, fallback, btnDown, btnUp, out, show) {
      var down = document.getElementById(btnDown), up = document.getElementById(btnUp), o = document.getElementById(out);
      if (!down || !up) return null;
      function current() { return parseFloat(load(key)) || fallback(); }
      function render(v) {
        o.textContent = show(v);
        down.disabled = v <= range[0];
        up.disabled = v >= range[1];
      }
      function apply(v) {
        v = Math.round(Math.max(range[0], Math.min(range[1], v)) * 100) / 100;
        rootStyle.setProperty(cssVar, String(v));
        store(key, v);
        render(v);
      }
      down.addEventListener("click", function () { apply(current() - range[2]); });
      up.addEventListener("click", function () { apply(current() + range[2]); });
      return function () { render(current()); };
    }
    var refresh = [
      setting("shiur-text-size", "--text-scale", TEXT_SIZE, function () { return 1; }, "size-down", "size-up",
        "size-val", function (v) { return Math.round(v * 100) + "%"; }),
      setting("shiur-line-height", "--text-leading", LINE_HEIGHT, function () { return self.defaultLeading(); },
        "leading-down", "leading-up", "leading-val", function (v) { return v.toFixed(2); }),
    ];
    var btn = this.$("tool-settings");
    if (btn) btn.addEventListener("click", function () { refresh.forEach(function (f) { if (f) f(); }); });
  };

  Player.prototype.defaultLeading = function () {
    if (!this.text) return 1.95;
    var cs = getComputedStyle(this.text);
    return Math.round(parseFloat(cs.lineHeight) / parseFloat(cs.fontSize) * 100) / 100 || 1.95;
  };

  // --- sleep timer --------------------------------------------------------------------------------

  Player.prototype.bindSleep = function () {
    var self = this, sel = this.$("sleep");
    if (!sel) return;
    sel.addEventListener("change", function () { self.setSleep(sel.value); });
  };

  Player.prototype.setSleep = function (value) {
    var self = this, status = this.$("sleep-status");
    clearTimeout(this.sleepTimer);
    clearInterval(this.sleepTick);
    this.sleep = null;
    if (status) status.replaceChildren();
    if (!value) return;
    if (value === "passage") {
      // Pause when the passage now playing (or, between passages, the next one) ends.
      this.sleep = { passage: true, cue: this.activeCue };
      if (status) status.appendChild(bilingual("ייעצר בסוף הקטע", "stops at the end of the passage"));
      return;
    }
    var ms = parseFloat(value) * 60000, until = Date.now() + ms;
    this.sleep = { until: until };
    function show() {
      var left = Math.max(0, Math.ceil((until - Date.now()) / 60000));
      if (status) status.replaceChildren(bilingual("ייעצר בעוד " + left + " דק׳", "stops in " + left + " min"));
    }
    show();
    this.sleepTick = setInterval(show, 30000);
    this.sleepTimer = setTimeout(function () { self.sleepNow(); }, ms);
  };

  Player.prototype.sleepOnCueChange = function (previous, cue) {
    var s = this.sleep;
    if (!s || !s.passage) return;
    if (!s.cue) { if (cue) s.cue = cue; return; }
    if (previous === s.cue && cue !== s.cue) this.sleepNow();
  };

  Player.prototype.sleepNow = function () {
    this.audio.pause();
    this.setSleep("");
    var sel = this.$("sleep");
    if (sel) sel.value = "";
    this.notify("טיימר השינה עצר את השיעור.", "The sleep timer paused the class.");
  };

  // --- offline ------------------------------------------------------------------------------------

  // "Keep for offline listening": this page, its cue files, word timings, search keys, the audio
  // and the page's own CSS/JS/fonts go into the Cache Storage that the service worker answers from.
  // Pressed again, it removes this class's files (the shared CSS/JS/fonts stay for other kept classes).
  Player.prototype.bindOffline = function () {
    var self = this, btn = this.$("keep-offline");
    if (!btn || !window.caches || !("serviceWorker" in navigator)) return;
    btn.hidden = false;
    function abs(list) { return list.map(function (u) { return new URL(u, location.href).href; }); }
    function classUrls() {
      var list = [location.pathname, self.audio.currentSrc || self.audio.src, self.passageTrackEl.src];
      if (self.chapterTrackEl) list.push(self.chapterTrackEl.src);
      if (self.root.dataset.words) list.push(self.root.dataset.words);
      if (self.root.dataset.keys) list.push(self.root.dataset.keys);
      return abs(list);
    }
    function siteUrls() {
      var els = document.querySelectorAll('link[rel="stylesheet"], script[src], link[rel="preload"][as="font"]');
      return abs(Array.prototype.map.call(els, function (el) { return el.href || el.src; }));
    }
    function label(kept) {
      btn.dataset.kept = String(kept);
      btn.replaceChildren(kept ? bilingual("✓ נשמר ללא רשת · הסרה", "Kept offline · remove")
        : bilingual("שמירה להאזנה ללא רשת", "Keep for offline listening"));
    }
    caches.open("shiur-classes").then(function (c) { return c.match(location.pathname); }).then(function (hit) {
      if (hit) label(true);
    });
    btn.addEventListener("click", function () {
      var kept = btn.dataset.kept === "true";
      btn.disabled = true;
      if (!kept) btn.replaceChildren(bilingual("שומר…", "Saving…"));
      caches.open("shiur-classes").then(function (c) {
        if (kept) return Promise.all(classUrls().map(function (u) { return c.delete(u); }));
        return c.addAll(classUrls().concat(siteUrls()));
      }).then(function () {
        btn.disabled = false;
        label(!kept);
        if (kept) self.notify("העותק שנשמר הוסר.", "The offline copy was removed.");
        else self.notify("השיעור נשמר להאזנה ללא רשת.", "This class is kept for offline listening.");
      }, function () {
        btn.disabled = false;
        label(kept);
        self.notify("השמירה נכשלה; נסו שוב כשיש רשת.", "Could not keep it; try again when online.");
      });
    });
  };

  window.addEventListener("hashchange", function () {
    if (window.shiurPlayer) window.shiurPlayer.followHash();
  });

  window.ShiurPlayer = {
    init: function (root, opts) { return new Player(root, opts); },
    parseCueId: parseCueId,
    parseTime: parseTime,
    searchKey: searchKey,
    fmt: fmt,
  };

  var root = document.querySelector("[data-shiur-player]");
  if (root && !root.hasAttribute("data-manual")) window.shiurPlayer = new Player(root);
})();
