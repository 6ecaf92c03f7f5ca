// The live page's script. Static: the stream's address comes from the JSON block #bsr-live
// (parsed, never evaluated); the player draws the terminal, and status text is set with
// textContent only.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("bsr-live").textContent);
  var status = document.getElementById("status");
  var el = document.getElementById("player");
  var player = AsciinemaPlayer.create(
    { driver: "eventsource", url: data.url, bufferTime: 0 },
    el,
    { autoPlay: true, fit: "width" }
  );
  status.textContent = "live: following the recording as it is written";
  player.addEventListener("ended", function () {
    status.textContent = "the channel has ended; the finished recording's verified replay is linked below";
  });
  window.__bsrLive = player;
})();
