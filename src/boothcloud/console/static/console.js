// boothcloud console: partial updates without a library. An element with data-poll="URL"
// has its content replaced by URL's answer every data-every milliseconds (same origin,
// the session cookie); data-until="selector" stops once the answer contains a match.
// An element with data-load="URL" gets URL's answer once, right after the page shows.
"use strict";
document.querySelectorAll("[data-load]").forEach(function (box) {
  fetch(box.getAttribute("data-load"), { credentials: "same-origin", redirect: "error" })
    .then(function (answer) { return answer.ok ? answer.text() : Promise.reject(answer.status); })
    .then(function (html) { box.innerHTML = html; box.removeAttribute("aria-busy"); })
    .catch(function () { box.textContent = "The daily summary could not be loaded; reload to retry."; });
});
document.querySelectorAll("[data-poll]").forEach(function (box) {
  var every = parseInt(box.getAttribute("data-every") || "3000", 10);
  var until = box.getAttribute("data-until");
  var timer = null;
  function tick() {
    fetch(box.getAttribute("data-poll"), { credentials: "same-origin", redirect: "error" })
      .then(function (answer) { return answer.ok ? answer.text() : Promise.reject(answer.status); })
      .then(function (html) {
        if (box.innerHTML.trim() !== html.trim()) { box.innerHTML = html; }
        if (until && box.querySelector(until)) { clearInterval(timer); }
      })
      .catch(function () { /* a missed poll is retried on the next tick */ });
  }
  if (until && box.querySelector(until)) { return; }
  timer = setInterval(tick, every);
});
