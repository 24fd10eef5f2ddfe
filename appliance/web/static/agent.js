// Linebox agent page: the screen pop (caller's number and queue when a queue call rings this agent,
// with their phonebook entry when they are in it)
// and the agent's live state, from /agent/stream (server-sent events).
(function () {
  "use strict";
  var pop = document.getElementById("screen-pop");
  if (!pop) { return; }
  // the page's words, in its language (appliance.web.callcenter.agent_words)
  var words = JSON.parse(pop.getAttribute("data-words") || "{}");
  var labels = {ringing: words.ringing, connected: words.connected, ended: words.ended, missed: words.missed};
  function state(code) { return (words.states && words.states[code]) || code; }
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
    pop.hidden = false;
    pop.className = "screen-pop pop-" + msg.type;
    pop.querySelector(".pop-kind").textContent = labels[msg.type] || msg.type;
    pop.querySelector(".pop-caller").textContent = msg.caller + (msg.caller_name ? " (" + msg.caller_name + ")" : "");
    var contact = pop.querySelector(".pop-contact");
    contact.hidden = !msg.contact;
    contact.textContent = msg.contact ? (words.phonebook || "{contact}").split("{contact}").join(msg.contact.name +
      (msg.contact.company ? ", " + msg.contact.company : "") + (msg.contact.note ? " (" + msg.contact.note + ")" : "")) : "";
    pop.querySelector(".pop-queue").textContent = (words.queue || "{number}").split("{number}").join(msg.queue);
  };
}());
