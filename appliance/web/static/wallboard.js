// Linebox wallboard: renders the live queue state pushed by /wallboard/stream (server-sent events).
(function () {
  "use strict";
  var root = document.getElementById("wallboard");
  var status = document.getElementById("wallboard-status");
  var panel = document.getElementById("wallboard-alerts");
  var zone = root.getAttribute("data-zone");
  var breaches = [];  // the open SLA breaches: the snapshot's list, kept current by the alert events between
  // the page's words, in its language (appliance.web.wallboard.wallboard_words)
  var words = JSON.parse(root.getAttribute("data-words") || "{}");
  function say(key, values) {
    var text = words[key] || key;
    Object.keys(values || {}).forEach(function (name) { text = text.split("{" + name + "}").join(values[name]); });
    return text;
  }
  function state(code) { return (words.states && words.states[code]) || code; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  // listen, whisper, barge (supervisors and admins, when the site allows it): a POST that rings their phone
  var supervise = document.getElementById("supervise");
  var result = document.getElementById("supervise-result");
  function spy(agent, mode) {
    var data = new FormData(supervise);
    data.append("agent", agent);
    data.append("mode", mode);
    result.textContent = "";
    fetch(supervise.getAttribute("action"), {method: "POST", body: data, credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        result.textContent = answer.ok ? answer.message : answer.problems;
        result.className = answer.ok ? "success" : "error";
      })
      .catch(function (err) { result.textContent = String(err); result.className = "error"; });
  }
  function spyButtons(agent) {
    var cell = el("td", "wb-spy");
    ["listen", "whisper", "barge"].forEach(function (mode) {
      var button = el("button", "small", say(mode));
      button.type = "button";
      button.title = say(mode + "_hint");
      button.addEventListener("click", function () { spy(agent, mode); });
      cell.appendChild(button);
    });
    return cell;
  }
  function mmss(s) { return Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2); }
  function clock(epoch) {
    try { return new Date(epoch * 1000).toLocaleTimeString(words.locale, zone ? {timeZone: zone} : {}); }
    catch (err) { return new Date(epoch * 1000).toLocaleTimeString(words.locale); }
  }
  function figure(kind, value) {
    if (kind === "longest_wait") { return mmss(Math.round(value)); }
    if (kind === "service_level") { return Number(value).toFixed(0) + "%"; }
    return String(value);
  }
  function showBreaches() {
    panel.textContent = "";
    panel.hidden = !breaches.length;
    if (!breaches.length) { return; }
    panel.appendChild(el("h2", null, say("alerts")));
    var list = panel.appendChild(el("ul"));
    breaches.forEach(function (b) {
      var item = el("li", "wb-breach", say("breach", {
        queue: b.name + " (" + b.queue + ")", alert: (words.kinds && words.kinds[b.kind]) || b.kind,
        value: figure(b.kind, b.value), threshold: figure(b.kind, b.threshold), time: clock(b.started)}));
      item.setAttribute("data-queue", b.queue);
      item.setAttribute("data-kind", b.kind);
      list.appendChild(item);
    });
  }
  function onAlert(a) {  // a breach that started or cleared, ahead of the snapshot that lists it
    breaches = breaches.filter(function (b) { return !(b.queue === a.queue && b.kind === a.kind); });
    if (a.state === "started") { breaches.push(a); }
    showBreaches();
  }
  function render(snap) {
    breaches = snap.alerts || [];
    showBreaches();
    root.textContent = "";
    if (snap.error) {  // the system's own words, quoted as they are
      status.textContent = "Asterisk: ";
      status.appendChild(el("span", null, snap.error)).lang = "en";
      return;
    }
    status.textContent = say("updated", {time: clock(snap.time)});  // site time, as the day and the alerts
    snap.queues.forEach(function (q) {
      var breached = breaches.some(function (b) { return b.queue === q.queue; });
      var card = el("section", "wb-queue" + (q.service_level_alert || breached ? " wb-alert" : ""));
      var title = el("h2", null, q.name);
      title.appendChild(el("span", "wb-number", " " + q.queue));
      card.appendChild(title);
      var figures = el("div", "wb-figures");
      var level = q.service_level === null ? "–" : q.service_level.toFixed(0) + "%";
      [[say("waiting"), q.waiting], [say("longest_wait"), mmss(q.longest_wait)],
       [say("service_level", {seconds: q.service_level_seconds, target: q.service_level_target}), level],
       [say("answered"), q.answered], [say("abandoned"), q.abandoned]].forEach(function (f) {
        var box = el("div", "wb-figure");
        box.appendChild(el("span", "wb-value", String(f[1])));
        box.appendChild(el("span", "wb-label", f[0]));
        figures.appendChild(box);
      });
      card.appendChild(figures);
      var table = el("table", "wb-agents");
      var head = el("tr");
      [say("agent"), say("state"), say("time_in_state"), say("calls_taken")].concat(supervise ? [""] : []).forEach(function (h) { head.appendChild(el("th", null, h)); });
      table.appendChild(el("thead")).appendChild(head);
      var body = table.appendChild(el("tbody"));
      q.agents.forEach(function (a) {
        var row = el("tr", "wb-" + a.state.replace(/ /g, "-"));
        row.appendChild(el("td", null, a.name ? a.name + " (" + a.agent + ")" : a.agent));
        row.appendChild(el("td", null, state(a.state) + (a.reason ? " (" + state(a.reason) + ")" : "")));
        row.appendChild(el("td", null, a.seconds ? mmss(a.seconds) : ""));
        row.appendChild(el("td", null, say(a.calls === 1 ? "one_call" : "calls", {count: a.calls})));
        if (supervise) { row.appendChild(a.state === "on call" ? spyButtons(a.agent) : el("td")); }
        body.appendChild(row);
      });
      if (!q.agents.length) { card.appendChild(el("p", "muted", say("no_agent"))); } else { card.appendChild(table); }
      root.appendChild(card);
    });
  }
  var source = new EventSource(root.getAttribute("data-stream"));
  source.onmessage = function (e) {
    var message = JSON.parse(e.data);
    if (message.type === "alert") { onAlert(message); } else { render(message); }
  };
  source.onerror = function () { status.textContent = say("lost"); };
}());
