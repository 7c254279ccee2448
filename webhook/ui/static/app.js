// SLA countdowns: tick every second; paused clocks (incident on hold) stand still.
(function () {
  function fmt(s) {
    var neg = s < 0; s = Math.abs(Math.round(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var t = (h ? h + "h" : "") + (h || m ? m + "m" : "") + r + "s";
    return neg ? "breached " + t + " ago" : t;
  }
  var start = Date.now();
  var els = Array.prototype.slice.call(document.querySelectorAll(".countdown"));
  function tick() {
    var el = (Date.now() - start) / 1000;
    els.forEach(function (e) {
      var s = parseFloat(e.dataset.seconds);
      if (e.dataset.paused !== "true") { s -= el; }
      e.textContent = fmt(s) + (e.dataset.paused === "true" ? " (paused)" : "");
      e.classList.toggle("breached", s < 0);
    });
  }
  if (els.length) { tick(); setInterval(tick, 1000); }
})();
