// Vigil console: small helpers for forms and times. Loaded from 'self' (the CSP allows
// no inline script); the pages work without it.
"use strict";

(function () {
  // Ask before steps that cannot be undone (forms with data-confirm).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });

  // One submission per click: a double tap must not post a step twice.
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented) return;
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        window.setTimeout(function () { b.disabled = true; }, 0);
      });
    });
  });

  // "Lift the restrictions too" only makes sense with a legitimate verdict.
  document.querySelectorAll("form.verdict").forEach(function (form) {
    var restore = form.querySelector("[data-restore]");
    if (!restore) return;
    function sync() {
      var chosen = form.querySelector("input[name=verdict]:checked");
      var legit = chosen !== null && chosen.value === "legitimate";
      restore.disabled = !legit;
      if (!legit) restore.checked = false;
    }
    form.querySelectorAll("input[name=verdict]").forEach(function (r) {
      r.addEventListener("change", sync);
    });
    sync();
  });

  // Deadlines read as "in 12 min" / "3 min ago", kept current while the page is open.
  function relative(date) {
    var seconds = (date.getTime() - Date.now()) / 1000;
    var span = Math.abs(seconds);
    var text;
    if (span < 60) text = Math.floor(span) + " s";
    else if (span < 3600) text = Math.floor(span / 60) + " min";
    else if (span < 172800) text = Math.floor(span / 3600) + " h";
    else text = Math.floor(span / 86400) + " days";
    return seconds >= 0 ? "in " + text : text + " ago";
  }
  function refresh() {
    document.querySelectorAll("time[data-rel]").forEach(function (t) {
      var when = new Date(t.getAttribute("datetime"));
      if (!isNaN(when.getTime())) {
        t.textContent = relative(when);
        t.title = when.toISOString();
      }
    });
  }
  refresh();
  window.setInterval(refresh, 30000);
})();
