/* Accord's screens work without this file; it only adds what a keyboard and a long list
   want: the workbench's shortcuts, moving on after a decision, and select-all boxes.
   Loaded as a file (Content-Security-Policy: script-src 'self'), never inline. */
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function go(selector) {
    var link = document.querySelector(selector);
    if (link && link.href) { window.location.assign(link.href); return true; }
    return false;
  }

  function workbench() {
    var page = document.querySelector("[data-workbench]");
    if (!page) return;
    var next = document.getElementById("next-item");
    if (next && next.hasAttribute("data-focus")) next.focus();
    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
      if (typing(event.target)) return;
      var key = event.key;
      if (/^[1-9]$/.test(key)) {
        var preset = document.querySelector('button[data-key="' + key + '"]');
        if (preset && !preset.disabled) { event.preventDefault(); preset.click(); }
        return;
      }
      if (key === "n" || key === "s") {
        if (go("#next-item")) event.preventDefault();
      } else if (key === "q") {
        if (go("#back-to-queue")) event.preventDefault();
      } else if (key === "/") {
        var note = document.getElementById("reason");
        if (note) { event.preventDefault(); note.focus(); }
      } else if (key === "?") {
        var help = document.getElementById("shortcuts");
        if (help) { event.preventDefault(); help.open = !help.open; }
      }
    });
  }

  function selectAll() {
    var boxes = document.querySelectorAll("input[data-select-all]");
    Array.prototype.forEach.call(boxes, function (box) {
      box.hidden = false;
      var label = document.querySelector('label[for="' + box.id + '"]');
      if (label) label.hidden = false;
      var wrap = box.closest(".choice");
      if (wrap) wrap.hidden = false;
      box.addEventListener("change", function () {
        var form = box.form;
        var name = box.getAttribute("data-select-all");
        Array.prototype.forEach.call(form.querySelectorAll('input[name="' + name + '"]'), function (c) {
          c.checked = box.checked;
        });
      });
    });
  }

  function ready() { workbench(); selectAll(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
