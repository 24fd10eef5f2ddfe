// Linebox wallboard: renders the live queue state pushed by /wallboard/stream (server-sent events).
(function () {
  "use strict";
  var root = document.getElementById("wallboard");
  var status = document.getElementById("wallboard-status");
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function mmss(s) { return Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2); }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }
  function render(snap) {
    root.textContent = "";
    if (snap.error) { status.textContent = "Asterisk: " + snap.error; return; }
    status.textContent = "Updated " + new Date(snap.time * 1000).toLocaleTimeString() +
      " · answered, abandoned and service level: today (" + (root.dataset.zone || "UTC") + "), as in Reports";
    snap.queues.forEach(function (q) {
      var card = el("section", "wb-queue" + (q.service_level_alert ? " wb-alert" : ""));
      var title = el("h2", null, q.name);
      title.appendChild(el("span", "wb-number", " " + q.queue));
      card.appendChild(title);
      var figures = el("div", "wb-figures");
      var level = q.service_level === null ? "–" : q.service_level.toFixed(0) + "%";
      [["Waiting", q.waiting], ["Longest wait", mmss(q.longest_wait)],
       ["Service level (" + q.service_level_seconds + " s, target " + q.service_level_target + "%)", level],
       ["Answered", q.answered], ["Abandoned", q.abandoned]].forEach(function (f) {
        var box = el("div", "wb-figure");
        box.appendChild(el("span", "wb-value", String(f[1])));
        box.appendChild(el("span", "wb-label", f[0]));
        figures.appendChild(box);
      });
      card.appendChild(figures);
      var table = el("table", "wb-agents");
      var head = el("tr");
      ["Agent", "State", "Time in state", "Calls taken"].forEach(function (h) { head.appendChild(el("th", null, h)); });
      table.appendChild(el("thead")).appendChild(head);
      var body = table.appendChild(el("tbody"));
      q.agents.forEach(function (a) {
        var row = el("tr", "wb-" + a.state.replace(/ /g, "-"));
        row.appendChild(el("td", null, a.name ? a.name + " (" + a.agent + ")" : a.agent));
        row.appendChild(el("td", null, a.state + (a.reason ? " (" + a.reason + ")" : "")));
        row.appendChild(el("td", null, a.seconds ? mmss(a.seconds) : ""));
        row.appendChild(el("td", null, plural(a.calls, "call", "calls")));
        body.appendChild(row);
      });
      if (!q.agents.length) { card.appendChild(el("p", "muted", "No agent in this queue.")); } else { card.appendChild(table); }
      root.appendChild(card);
    });
  }
  var source = new EventSource(root.getAttribute("data-stream"));
  source.onmessage = function (e) { render(JSON.parse(e.data)); };
  source.onerror = function () { status.textContent = "Connection lost, retrying…"; };
}());
