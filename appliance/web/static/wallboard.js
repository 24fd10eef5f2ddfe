// Linebox wallboard: renders the live queue state pushed by /wallboard/stream (server-sent events).
(function () {
  "use strict";
  var root = document.getElementById("wallboard");
  var status = document.getElementById("wallboard-status");
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
  function render(snap) {
    root.textContent = "";
    if (snap.error) {  // the system's own words, quoted as they are
      status.textContent = "Asterisk: ";
      status.appendChild(el("span", null, snap.error)).lang = "en";
      return;
    }
    status.textContent = say("updated", {time: new Date(snap.time * 1000).toLocaleTimeString(words.locale)});
    snap.queues.forEach(function (q) {
      var card = el("section", "wb-queue" + (q.service_level_alert ? " wb-alert" : ""));
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
  source.onmessage = function (e) { render(JSON.parse(e.data)); };
  source.onerror = function () { status.textContent = say("lost"); };
}());
