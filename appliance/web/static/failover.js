// Up/down/remove in an ordered list (outbound route trunks) without a round trip to the server.
// Without JavaScript each button posts the form and the server answers with the list rearranged;
// with it, the same buttons move the list item (and its hidden input) in place.  Nothing is saved
// until the form's Save button is pressed, either way.
(function () {
  "use strict";
  function renumber(list) {
    var items = list.querySelectorAll("li[data-item]");
    items.forEach(function (li, index) {
      li.querySelector(".order").textContent = (index + 1) + ".";
      li.querySelectorAll("button[name=move]").forEach(function (button) {
        var parts = button.value.split(":");
        button.value = parts[0] + ":" + index + ":" + parts[2];
        if (parts[2] === "up") { button.disabled = index === 0; }
        if (parts[2] === "down") { button.disabled = index === items.length - 1; }
      });
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("ol.failover button[name=move]");
    if (!button) { return; }
    var li = button.closest("li"), list = li.parentNode, verb = button.value.split(":")[2];
    event.preventDefault();
    if (verb === "up" && li.previousElementSibling) {
      list.insertBefore(li, li.previousElementSibling);
    } else if (verb === "down" && li.nextElementSibling) {
      list.insertBefore(li.nextElementSibling, li);
    } else if (verb === "remove") {
      li.remove();
    }
    renumber(list);
    var same = list.querySelector("li[data-item='" + li.dataset.item + "'] button[value$=':" + verb + "']");
    if (same && !same.disabled) { same.focus(); }
  });
}());
