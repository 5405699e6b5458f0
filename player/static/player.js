// Shiur Sync player: highlights the passage (and word) being spoken, driven by the <audio>
// element's TextTrack cue events. No server polling: after the page, the VTT files and the word
// timings have loaded, everything runs in the browser.
//
// Reusable: ShiurPlayer.init(rootEl, {text: articleEl}) returns an object with seek(),
// seekPassage(), on("passage"|"word"|"tap"|"ready", fn) and the audio element; H4's review screen
// builds on it. Pages that want manual setup put data-manual on the root.
(function () {
  "use strict";

  var CUE_RE = /^(p\d+\.\d+)(?:\.(r|x)(\d*))?$/;
  var RESUME_MIN = 5;
  // Word timings are sparse in fast speech; keep the last word lit across short gaps.
  var WORD_GAP = 0.35;

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

  function store(key, value) {
    try {
      if (value === null) localStorage.removeItem(key);
      else localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* storage full or disabled: resume is a nicety */ }
  }
  function load(key) {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
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
    this.wordEl = null;
    this.words = {};
    this.raf = 0;
    this.autoScrollUntil = 0;
    this.lastSaved = 0;
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
    if (rate) { a.playbackRate = rate; ui.rate.value = String(rate); }
    ui.rate.addEventListener("change", function () {
      a.playbackRate = parseFloat(ui.rate.value) || 1;
      store("shiur-rate", a.playbackRate);
    });
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
    a.addEventListener("play", function () { self.setPlaying(true); self.loop(); });
    a.addEventListener("pause", function () { self.setPlaying(false); self.savePosition(); });
    a.addEventListener("ended", function () { store(self.resumeKey, null); });
    a.addEventListener("seeked", function () { self.updateWord(); });
    a.addEventListener("error", function () {
      self.notify("לא ניתן לטעון את ההקלטה. · The recording could not be loaded.");
    });
    window.addEventListener("pagehide", function () { self.savePosition(); });
  };

  Player.prototype.setPlaying = function (playing) {
    this.ui.play.querySelector(".icon").textContent = playing ? "❚❚" : "▶";
    this.ui.play.setAttribute("aria-label", playing ? "השהה · Pause" : "נגן · Play");
    this.root.classList.toggle("playing", playing);
  };

  Player.prototype.toggle = function () {
    if (this.audio.paused) {
      var p = this.audio.play();
      if (p && p.catch) p.catch(function () { /* autoplay refused: the button stays "Play" */ });
    } else {
      this.audio.pause();
    }
  };

  Player.prototype.seek = function (t) {
    var a = this.audio;
    var max = isFinite(a.duration) ? a.duration : Infinity;
    a.currentTime = Math.max(0, Math.min(t, max));
    this.ui.seek.value = String(a.currentTime);
    this.ui.cur.textContent = fmt(a.currentTime);
  };

  Player.prototype.skip = function (dt) { this.seek(this.audio.currentTime + dt); };

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
      this.notify("קטע זה לא נקרא בשיעור. · This passage was not read in the class.");
      return false;
    }
    // A hair past the start: a seek can land a rounding step early, inside the previous cue.
    this.seek(cue.startTime + 0.001);
    this.follow = true;
    this.hideBackButton();
    return true;
  };

  Player.prototype.seekParagraph = function (n) {
    var cue = this.cueForParagraph(n);
    if (!cue) {
      this.notify("פסקה זו לא נקראה בשיעור. · This paragraph was not read in the class.");
      return false;
    }
    this.seek(cue.startTime + 0.001);
    this.follow = true;
    this.hideBackButton();
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
    if (el) {
      el.classList.add(kind === "explained" ? "is-explained" : "is-read");
      el.setAttribute("aria-current", "true");
      this.setParagraph(el.closest(".para"));
      this.ui.nowKind.textContent = kind === "explained" ? "הסבר · explaining" : "קריאה · reading";
      this.ui.nowKind.className = "kind " + kind;
      this.scrollToActive(false);
    } else {
      this.ui.nowKind.textContent = "";
      this.ui.nowKind.className = "kind";
    }
    this.updateWord();
    this.emit("passage", info, cue);
  };

  Player.prototype.setParagraph = function (para) {
    if (para === this.activePara) return;
    if (this.activePara) this.activePara.classList.remove("is-current");
    this.activePara = para;
    if (!para) { this.ui.nowPara.textContent = ""; return; }
    para.classList.add("is-current");
    var sec = para.querySelector(".sec");
    this.ui.nowPara.textContent = "פסקה " + para.dataset.n + (sec ? " · סעיף " + sec.textContent : "");
    var marks = this.ui.marks.children;
    for (var i = 0; i < marks.length; i++) marks[i].classList.toggle("is-current", marks[i].dataset.p === para.id);
  };

  Player.prototype.onChapterChange = function () {
    var active = this.chapters.activeCues;
    if (!active || !active.length || this.activeEl) return;
    // Between passage cues (an off-text digression) the chapter still says where we are.
    this.setParagraph(document.getElementById(active[0].id.split(".")[0]) || null);
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

  Player.prototype.bindText = function () {
    var self = this;
    if (!this.text) return;
    this.text.addEventListener("click", function (e) {
      var pn = e.target.closest(".pn");
      if (pn) {
        e.preventDefault();
        var para = pn.closest(".para");
        if (self.seekParagraph(para.dataset.n)) history.replaceState(null, "", "#" + para.id);
        return;
      }
      var sel = window.getSelection && window.getSelection();
      if (sel && !sel.isCollapsed) return; // selecting text to copy is not a seek
      var ps = e.target.closest(".ps");
      if (!ps) return;
      // Pages built on the player (the review screen) may take over taps: preventDefault() in a "tap" handler.
      self.emit("tap", ps.id, e);
      if (!e.defaultPrevented) self.seekPassage(ps.id);
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
    var reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    this.autoScrollUntil = Date.now() + (reduce ? 200 : 1200);
    this.activeEl.scrollIntoView({ block: "center", behavior: reduce ? "auto" : "smooth" });
  };

  Player.prototype.bindScroll = function () {
    var self = this;
    var intent = 0;
    function userIntent() { intent = Date.now(); }
    ["wheel", "touchstart", "touchmove", "mousedown"].forEach(function (ev) {
      window.addEventListener(ev, userIntent, { passive: true });
    });
    window.addEventListener("keydown", function (e) {
      if (/^(PageUp|PageDown|Home|End|ArrowUp|ArrowDown)$/.test(e.key)) userIntent();
    });
    window.addEventListener("scrollend", function () {
      if (Date.now() - intent > 1500) self.autoScrollUntil = 0;
    });
    window.addEventListener("scroll", function () {
      var now = Date.now();
      // Our own smooth scroll also fires scroll events; only a recent wheel/touch/key is the user.
      if (now < self.autoScrollUntil && now - intent > 300) return;
      if (!self.activeEl) return;
      if (self.isVisible(self.activeEl)) {
        if (!self.follow) { self.follow = true; self.hideBackButton(); }
      } else if (self.follow || self.ui.backCurrent.hidden) {
        self.follow = false;
        self.ui.backCurrent.hidden = false;
      }
    }, { passive: true });
    this.ui.backCurrent.addEventListener("click", function () {
      self.follow = true;
      self.hideBackButton();
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
      if (/^(INPUT|SELECT|TEXTAREA)$/.test(tag) || e.target.isContentEditable) return;
      var onButton = tag === "BUTTON" || tag === "A";
      // e.code, not e.key: on a Hebrew keyboard layout J/K/L type י/ל/ך.
      switch (e.code) {
        case "Space":
          if (onButton) return; // the focused button's own activation
          self.toggle(); break;
        case "KeyK": self.toggle(); break;
        case "KeyJ": case "ArrowLeft": self.skip(-10); break;
        case "KeyL": case "ArrowRight": self.skip(10); break;
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
    ms.metadata = new MediaMetadata({ title: h1 ? h1.textContent.trim() : document.title, artist: this.root.dataset.lecturer || "" });
    var actions = {
      play: function () { self.audio.play(); },
      pause: function () { self.audio.pause(); },
      seekbackward: function () { self.skip(-10); },
      seekforward: function () { self.skip(10); },
      seekto: function (d) { self.seek(d.seekTime); },
    };
    Object.keys(actions).forEach(function (k) {
      try { ms.setActionHandler(k, actions[k]); } catch (e) { /* action not supported here */ }
    });
  };

  // --- where to start ----------------------------------------------------------------------

  Player.prototype.notify = function (msg, action, onAction) {
    var n = this.ui.notice;
    n.textContent = msg;
    if (action) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = action;
      b.addEventListener("click", function () { onAction(); n.hidden = true; });
      n.appendChild(document.createTextNode(" "));
      n.appendChild(b);
    }
    n.hidden = false;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(function () { n.hidden = true; }, 8000);
  };

  Player.prototype.startPosition = function () {
    var self = this;
    var params = new URLSearchParams(location.search);
    var t = parseTime(params.get("t"));
    if (isFinite(t) && t >= 0) { this.seek(t); return "time"; }
    if (this.followHash()) return "hash";
    var saved = load(this.resumeKey);
    if (saved && saved.t > RESUME_MIN) {
      this.seek(saved.t);
      this.notify("ממשיכים מ־" + fmt(saved.t) + " · Resuming at " + fmt(saved.t), "מההתחלה · Start over",
        function () { self.seek(0); store(self.resumeKey, null); });
      return "resume";
    }
    return "start";
  };

  Player.prototype.followHash = function () {
    var id = decodeURIComponent(location.hash.slice(1));
    var ok = false;
    if (/^p\d+\.\d+$/.test(id)) ok = this.seekPassage(id);
    else if (/^p\d+$/.test(id)) ok = this.seekParagraph(id.slice(1));
    if (ok) {
      var el = document.getElementById(id);
      if (el) { this.autoScrollUntil = Date.now() + 300; el.scrollIntoView({ block: "center" }); }
    }
    return ok;
  };

  window.addEventListener("hashchange", function () {
    if (window.shiurPlayer) window.shiurPlayer.followHash();
  });

  window.ShiurPlayer = {
    init: function (root, opts) { return new Player(root, opts); },
    parseCueId: parseCueId,
    parseTime: parseTime,
    fmt: fmt,
  };

  var root = document.querySelector("[data-shiur-player]");
  if (root && !root.hasAttribute("data-manual")) window.shiurPlayer = new Player(root);
})();
