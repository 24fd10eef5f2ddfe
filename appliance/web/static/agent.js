// Linebox agent page: the screen pop (caller's number and queue when a queue call rings this agent,
// with their phonebook entry, or "unknown" and a link to add them; their earlier calls with dispositions
// and notes; today's abandoned calls), the call's disposition and note (saved to /agent/disposition),
// and the agent's live state, from /agent/stream (server-sent events).
(function () {
  "use strict";
  var pop = document.getElementById("screen-pop");
  if (!pop) { return; }
  // the page's words, in its language (appliance.web.callcenter.agent_words)
  var words = JSON.parse(pop.getAttribute("data-words") || "{}");
  var labels = {ringing: words.ringing, connected: words.connected, ended: words.ended, missed: words.missed};
  var form = pop.querySelector(".pop-disposition");
  var result = pop.querySelector(".pop-disposition-result");
  function state(code) { return (words.states && words.states[code]) || code; }
  function fill(template, key, value) { return (template || "{" + key + "}").split("{" + key + "}").join(value); }
  function cell(row, text) { var td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }
  function when(epoch) { return new Date(epoch * 1000).toLocaleString(); }

  function showHistory(h) {
    var table = pop.querySelector(".pop-history"), body = table.querySelector("tbody");
    body.textContent = "";
    var unknown = pop.querySelector(".pop-unknown");
    unknown.hidden = !!h.contact || !h.add_contact;
    if (!h.contact && h.add_contact) { unknown.querySelector("a").setAttribute("href", h.add_contact); }
    var abandoned = pop.querySelector(".pop-abandoned");
    abandoned.hidden = !h.abandoned_today;
    abandoned.textContent = h.abandoned_today ? fill(words.abandoned_today, "count", h.abandoned_today) : "";
    h.calls.forEach(function (c) {
      var row = document.createElement("tr");
      row.setAttribute("data-call", c.callid);
      cell(row, when(c.time));
      cell(row, c.queues.join(", "));
      cell(row, ((words.outcomes && words.outcomes[c.outcome]) || c.outcome) +
        (c.agent ? " " + fill(words.by, "agent", c.agent) : ""));
      cell(row, String(c.talk_seconds));
      cell(row, c.disposition).className = "disposition";
      cell(row, c.note).className = "note";
      var links = cell(row, "");
      c.recordings.forEach(function (url) {
        var a = document.createElement("a");
        a.href = url; a.textContent = words.listen || "listen";
        links.appendChild(a);
      });
      body.appendChild(row);
    });
    table.hidden = !h.calls.length;
    pop.querySelector(".pop-no-history").hidden = !!h.calls.length;
  }

  function showDisposition(msg) {
    if (form.elements.call.value === msg.uniqueid) { return; }  // the same call, connected after ringing
    form.elements.call.value = msg.uniqueid;
    form.elements.linkedid.value = msg.linkedid || "";
    form.elements.queue.value = msg.queue;
    var select = form.elements.disposition;
    while (select.options.length > 1) { select.remove(1); }
    (msg.dispositions || []).forEach(function (name) { select.add(new Option(name, name)); });
    select.required = !!msg.disposition_required;
    form.elements.note.value = "";
    result.textContent = "";
    form.hidden = false;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    result.textContent = words.saving || "";
    fetch(form.getAttribute("action"), {method: "POST", body: new FormData(form), credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        result.textContent = answer.saved ? answer.message : answer.problems;
        result.className = "pop-disposition-result " + (answer.saved ? "success" : "error");
      })
      .catch(function (err) { result.textContent = String(err); result.className = "pop-disposition-result error"; });
  });

  // The CRM's answer comes as a later message (it never holds the pop back); written as text only.
  var crmCall = "";
  function startCrm(msg) {
    crmCall = msg.uniqueid;
    var text = pop.querySelector(".pop-crm"), link = pop.querySelector(".pop-crm-link"),
      open = pop.querySelector(".pop-crm-open");
    text.hidden = !msg.crm_pending;
    text.textContent = msg.crm_pending ? (words.crm_waiting || "") : "";
    link.hidden = true;
    open.hidden = !msg.crm_open;
    if (msg.crm_open) { open.setAttribute("href", msg.crm_open); }
  }
  function showCrm(msg) {
    if (msg.uniqueid !== crmCall || !msg.crm) { return; }
    var text = pop.querySelector(".pop-crm"), link = pop.querySelector(".pop-crm-link"), c = msg.crm;
    text.hidden = false;
    text.textContent = c.found ? fill(words.crm, "contact", c.name + (c.company ? ", " + c.company : "")) :
      c.error ? fill(words.crm_error, "error", c.error) : words.crm_none;
    link.hidden = !c.link;
    if (c.link && /^https?:\/\//.test(c.link)) { link.setAttribute("href", c.link); }
  }

  // transfer or park the call the agent is on (/agent/transfer); the answer says where it went, or the
  // parking slot to dial from any phone
  var transfer = document.getElementById("transfer");
  if (transfer) {
    var transferResult = transfer.querySelector(".transfer-result");
    transfer.addEventListener("submit", function (e) {
      e.preventDefault();
      transferResult.textContent = words.saving || "";
      fetch(transfer.getAttribute("action"), {method: "POST", body: new FormData(transfer), credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (answer) {
          transferResult.textContent = answer.done ? answer.message : answer.problems;
          transferResult.className = "transfer-result " + (answer.done ? "success" : "error");
        })
        .catch(function (err) { transferResult.textContent = String(err); transferResult.className = "transfer-result error"; });
    });
  }

  var source = new EventSource(pop.getAttribute("data-stream"));
  source.onmessage = function (e) {
    var msg = JSON.parse(e.data);
    if (msg.type === "state") {
      msg.queues.forEach(function (q) {
        var row = document.querySelector('#memberships tr[data-queue="' + q.queue + '"] .state');
        if (row && q.me.length) {
          row.textContent = state(q.me[0].state) + (q.me[0].reason ? " (" + state(q.me[0].reason) + ")" : "");
        }
      });
      return;
    }
    if (msg.type === "crm") { showCrm(msg); return; }
    pop.hidden = false;
    pop.className = "screen-pop pop-" + msg.type;
    if (msg.type === "ringing") { startCrm(msg); }
    pop.querySelector(".pop-kind").textContent = labels[msg.type] || msg.type;
    pop.querySelector(".pop-caller").textContent = msg.caller + (msg.caller_name ? " (" + msg.caller_name + ")" : "");
    var contact = pop.querySelector(".pop-contact");
    contact.hidden = !msg.contact;
    contact.textContent = msg.contact ? fill(words.phonebook, "contact", msg.contact.name +
      (msg.contact.company ? ", " + msg.contact.company : "") + (msg.contact.note ? " (" + msg.contact.note + ")" : "")) : "";
    pop.querySelector(".pop-queue").textContent = fill(words.queue, "number", msg.queue);
    var robot = pop.querySelector(".pop-robot");
    robot.hidden = !msg.robot;
    robot.textContent = !msg.robot ? "" : msg.robot.heard.length ?
      fill(words.robot_heard, "heard", "\u201c" + msg.robot.heard.join("\u201d, \u201c") + "\u201d") : words.robot_nothing;
    pop.querySelector(".pop-call-back").elements.number.value = msg.caller || "";
    if (msg.history) { showHistory(msg.history); }
    if (msg.type === "ringing" || msg.type === "connected") { showDisposition(msg); }
    if (msg.type === "missed") { form.hidden = true; form.elements.call.value = ""; }
  };
}());
