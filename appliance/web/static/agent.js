// Linebox agent page: the screen pop (caller's number and queue when a queue call rings this agent,
// with their phonebook entry when they are in it)
// and the agent's live state, from /agent/stream (server-sent events).
(function () {
  "use strict";
  var pop = document.getElementById("screen-pop");
  if (!pop) { return; }
  var labels = {ringing: "Ringing:", connected: "On call with", ended: "Call ended:", missed: "Missed:"};
  var source = new EventSource(pop.getAttribute("data-stream"));
  source.onmessage = function (e) {
    var msg = JSON.parse(e.data);
    if (msg.type === "state") {
      msg.queues.forEach(function (q) {
        var row = document.querySelector('#memberships tr[data-queue="' + q.queue + '"] .state');
        if (row && q.me.length) {
          row.textContent = q.me[0].state + (q.me[0].reason ? " (" + q.me[0].reason + ")" : "");
        }
      });
      return;
    }
    pop.hidden = false;
    pop.className = "screen-pop pop-" + msg.type;
    pop.querySelector(".pop-kind").textContent = labels[msg.type] || msg.type;
    pop.querySelector(".pop-caller").textContent = msg.caller + (msg.caller_name ? " (" + msg.caller_name + ")" : "");
    var contact = pop.querySelector(".pop-contact");
    contact.hidden = !msg.contact;
    contact.textContent = msg.contact ? "Phonebook: " + msg.contact.name +
      (msg.contact.company ? ", " + msg.contact.company : "") + (msg.contact.note ? " (" + msg.contact.note + ")" : "") : "";
    pop.querySelector(".pop-queue").textContent = "queue " + msg.queue;
  };
}());
