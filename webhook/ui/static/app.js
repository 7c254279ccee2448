// The service desk's page: SLA countdowns, selection in the queue, and the refresh of the live
// parts of a page (elements with data-live) without losing what the operator is doing.
(function () {
  var body = document.body;
  var breached = body.dataset.breached || "breached {} ago";
  var pausedWord = body.dataset.paused || "(paused)";

  // SLA countdowns: tick every second; paused clocks (incident on hold) stand still.
  function fmt(s) {
    var neg = s < 0; s = Math.abs(Math.round(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var t = (h ? h + "h" : "") + (h || m ? m + "m" : "") + r + "s";
    return neg ? breached.replace("{}", t) : t;
  }
  function arm(root) {
    var now = Date.now();
    root.querySelectorAll(".countdown").forEach(function (e) { e.dataset.t0 = now; });
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown").forEach(function (e) {
      var s = parseFloat(e.dataset.seconds), paused = e.dataset.paused === "true";
      if (!paused) { s -= (now - parseFloat(e.dataset.t0 || now)) / 1000; }
      e.textContent = fmt(s) + (paused ? " " + pausedWord : "");
      e.classList.toggle("breached", s < 0);
    });
  }
  arm(document); tick(); setInterval(tick, 1000);

  // Queue: "select all".
  function wireSelectAll() {
    var all = document.getElementById("select-all");
    if (!all) { return; }
    all.onchange = function () {
      document.querySelectorAll("input.pick").forEach(function (c) { c.checked = all.checked; });
    };
  }
  wireSelectAll();

  // edited reports whether the operator is working in el: a field has the focus or holds
  // something other than what the page brought.
  function edited(el) {
    if (el.contains(document.activeElement) && document.activeElement !== document.body) {
      var a = document.activeElement;
      if (a.matches("input, select, textarea")) { return true; }
    }
    var fields = el.querySelectorAll("input, select, textarea");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "hidden") { continue; }
      if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) { return true; }
      } else if (f.tagName === "SELECT") {
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].selected !== f.options[j].defaultSelected) { return true; }
        }
      } else if (f.value !== f.defaultValue) { return true; }
    }
    return false;
  }

  function notice(text) {
    var n = document.getElementById("live-notice");
    if (n) { n.textContent = text; n.hidden = false; }
  }

  // Refresh: fetch the page again and swap its live parts. The queue's body is swapped with
  // the checked incidents kept checked; a part holding the operator's input (data-keep-input:
  // the incident's actions) is left alone and a notice says the page changed; forms and
  // filters outside the live parts are never touched. A page whose session ended stops.
  var every = parseInt(body.dataset.refresh || "0", 10);
  if (!every || !document.querySelector("[data-live]")) { return; }
  var busy = false, stopped = false;
  function refresh() {
    if (busy || stopped || document.hidden) { return; }
    busy = true;
    fetch(body.dataset.refreshUrl || location.href, { credentials: "same-origin", headers: { "X-Kizashi-Refresh": "1" } })
      .then(function (res) {
        if (res.redirected && new URL(res.url).pathname === "/login") {
          stopped = true; notice(body.dataset.expired); return null;
        }
        if (!res.ok) { return null; }
        return res.text();
      })
      .then(function (text) {
        if (!text) { return; }
        var doc = new DOMParser().parseFromString(text, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (el) {
          var fresh = el.id && doc.getElementById(el.id);
          if (!fresh) { return; }
          if (el.hasAttribute("data-keep-input")) {
            if (el.innerHTML === fresh.innerHTML) { return; }
            if (edited(el)) { notice(body.dataset.stale); return; }
          }
          var checked = {};
          el.querySelectorAll("input.pick:checked").forEach(function (c) { checked[c.value] = true; });
          var node = document.importNode(fresh, true);
          node.querySelectorAll("input.pick").forEach(function (c) { c.checked = !!checked[c.value]; });
          el.replaceWith(node);
          arm(node);
        });
        tick();
        body.dataset.refreshed = String((parseInt(body.dataset.refreshed || "0", 10) + 1));
      })
      .catch(function () { /* offline: try again at the next tick */ })
      .then(function () { busy = false; });
  }
  setInterval(refresh, every * 1000);
})();
