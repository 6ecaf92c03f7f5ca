// The evidence page's script. Static: every recording-derived value comes from the JSON block
// #bsr-data (parsed, never evaluated) or from text already escaped in the HTML, and is put in
// the DOM with textContent only.
(function () {
  "use strict";
  var dataEl = document.getElementById("bsr-data");
  var tabs = document.querySelectorAll("nav.tabs button");
  function showTab(name) {
    for (var i = 0; i < tabs.length; i++) {
      var on = tabs[i].getAttribute("data-tab") === name;
      tabs[i].setAttribute("aria-selected", on ? "true" : "false");
      var sec = document.getElementById("tab-" + tabs[i].getAttribute("data-tab"));
      if (sec) sec.hidden = !on;
    }
  }
  for (var i = 0; i < tabs.length; i++) {
    tabs[i].addEventListener("click", function (ev) {
      showTab(ev.currentTarget.getAttribute("data-tab"));
    });
  }
  if (!dataEl) return; // refused page: nothing to play
  var data = JSON.parse(dataEl.textContent);
  // A page served by `bsr-asciicast serve` fetches its cast (same origin) instead of holding it.
  if (typeof data.castUrl === "string") {
    fetch(data.castUrl, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
      .then(function (text) { init(text); })
      .catch(function (e) {
        var p = document.getElementById("player");
        p.textContent = "The cast could not be loaded: " + String(e && e.message);
        p.className = "refused";
      });
  } else {
    init(data.cast);
  }

  function init(castText) {

  // Event times of the cast (seconds), for mapping recording time to player time under an
  // idle-time cap (the same rule as the player's own limiter).
  var times = [];
  var lines = castText.split("\n");
  for (var j = 1; j < lines.length; j++) {
    if (lines[j].length === 0) continue;
    var ev = JSON.parse(lines[j]);
    if (typeof ev[0] === "number") times.push(ev[0]);
  }
  var v3 = false;
  try { v3 = JSON.parse(lines[0]).version === 3; } catch (e) { v3 = false; }
  if (v3) { // v3 times are intervals
    var acc = 0;
    for (var k = 0; k < times.length; k++) { acc += times[k]; times[k] = acc; }
  }

  // The player hides markers at or after the last event (its duration); a finding there (an
  // exit signal, say) gets an empty output event just after it, which shows nothing.
  var cast = castText;
  var last = times.length ? times[times.length - 1] : 0;
  var lastMarker = -1;
  for (var m = 0; m < data.markers.length; m++) lastMarker = Math.max(lastMarker, data.markers[m][0]);
  if (!v3 && lastMarker >= last) {
    var tEnd = Math.round((lastMarker + 0.001) * 1e6) / 1e6;
    if (cast.length && cast[cast.length - 1] !== "\n") cast += "\n";
    cast += JSON.stringify([tEnd, "o", ""]) + "\n";
    times.push(tEnd);
  }

  var state = { speed: data.speed, idle: data.idleTimeLimit, player: null };

  function playerTime(t) {
    var lim = state.idle;
    if (lim === null || lim === undefined) return t;
    var prev = 0, shift = 0;
    for (var i = 0; i < times.length && times[i] <= t; i++) {
      var d = times[i] - prev - lim;
      if (d > 0) shift += d;
      prev = times[i];
    }
    return Math.min(t - shift, prev - shift + lim);
  }

  function markers() {
    return data.markers.map(function (m) { return [playerTime(m[0]), m[1]]; });
  }

  var container = document.getElementById("player");
  function create(startAt, play) {
    if (state.player) { state.player.dispose(); container.textContent = ""; }
    var opts = {
      speed: state.speed,
      markers: markers(),
      fit: "width",
      controls: true,
      startAt: startAt || 0,
      autoPlay: !!play,
    };
    if (state.idle !== null && state.idle !== undefined) opts.idleTimeLimit = state.idle;
    state.player = AsciinemaPlayer.create({ data: cast }, container, opts);
    window.bsrPlayer = state.player;
  }
  create(playerTime(data.startAt || 0), false);
  // Opened at a time (a keyframe cast from `serve`): show that frame at once.
  if (data.startAt > 0) state.player.seek(playerTime(data.startAt));

  // Recording time now (inverse of playerTime, by search over the event times).
  function recordingTime() {
    var pt = state.player.getCurrentTime() || 0;
    var lo = 0, hi = times.length ? times[times.length - 1] : 0;
    for (var n = 0; n < 50; n++) {
      var mid = (lo + hi) / 2;
      if (playerTime(mid) < pt) lo = mid; else hi = mid;
    }
    return hi;
  }

  var speedButtons = document.querySelectorAll("button.speed");
  for (var s = 0; s < speedButtons.length; s++) {
    speedButtons[s].addEventListener("click", function (ev) {
      state.speed = parseFloat(ev.currentTarget.getAttribute("data-speed"));
      for (var q = 0; q < speedButtons.length; q++) {
        speedButtons[q].setAttribute("aria-pressed", speedButtons[q] === ev.currentTarget ? "true" : "false");
      }
      create(recordingTime(), true);
    });
  }
  var idleSel = document.getElementById("idle");
  idleSel.addEventListener("change", function () {
    var at = recordingTime();
    state.idle = idleSel.value === "none" ? null : parseFloat(idleSel.value);
    create(at, false);
  });

  // Seek links: data-t is seconds since the cast start.
  function seek(t) {
    showTab("video");
    return state.player.seek(playerTime(t));
  }
  var links = document.querySelectorAll("a.seek");
  for (var l = 0; l < links.length; l++) {
    links[l].addEventListener("click", function (ev) {
      ev.preventDefault();
      var t = parseFloat(ev.currentTarget.getAttribute("data-t"));
      if (isFinite(t)) seek(t);
    });
  }
  window.bsrPage = { playerTime: playerTime, seek: seek, showTab: showTab };
  }
})();
