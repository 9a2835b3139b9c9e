// Pilah's review workspace: one key per decision, the searchable code list, span selection.
// Every request goes through htmx (the token travels in the X-Pilah-Token header the page sets).
(function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  function open(id) {
    var panel = document.getElementById(id);
    if (!panel) return;
    panel.hidden = false;
    var first = panel.querySelector(".code-search, textarea");
    if (first) first.focus();
  }

  function close(panel) {
    if (!panel) return;
    panel.hidden = true;
    var item = document.getElementById("item");
    if (item) item.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll(".panel:not([hidden])").forEach(close);
      return;
    }
    if (typing(event.target)) {
      // Ctrl+Enter saves a memo or an edit from inside its form
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.form) {
        event.preventDefault();
        htmx.trigger(event.target.form, "submit");
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (!document.querySelector('#queue [data-key="' + CSS.escape(event.key) + '"]')) return;
    event.preventDefault();
    waiting.push(event.key);
    if (!busy) nextKey();
  });

  // Keys are taken one at a time, in order: a key pressed while a decision is on its way
  // waits for the answer and acts on the item that answer shows, never on the one before.
  var waiting = [], busy = false;
  function nextKey() {
    var key = waiting.shift();
    if (key === undefined) return;
    if (document.querySelector("#queue .panel:not([hidden])")) { waiting = []; return; }  // a panel has the keys
    var button = document.querySelector('#queue [data-key="' + CSS.escape(key) + '"]');
    if (!button) { nextKey(); return; }
    if (button.hasAttribute("hx-post") || button.hasAttribute("hx-get")) {
      busy = true;
      htmx.process(button);
    }
    button.click();
    if (!busy) nextKey();
  }
  document.addEventListener("htmx:afterSettle", function () { busy = false; nextKey(); });
  document.addEventListener("htmx:responseError", function () { busy = false; waiting = []; });
  document.addEventListener("htmx:sendError", function () { busy = false; waiting = []; });

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open]");
    if (opener) open(opener.getAttribute("data-open"));
    var closer = event.target.closest("[data-close]");
    if (closer) close(closer.closest(".panel"));
  });

  // the searchable code list: typing filters the options, Enter submits the form
  document.addEventListener("input", function (event) {
    if (!event.target.classList.contains("code-search")) return;
    var words = event.target.value.toLowerCase().split(/\s+/).filter(Boolean);
    var list = event.target.form.querySelector(".code-list");
    var first = null;
    Array.prototype.forEach.call(list.options, function (option) {
      var text = (option.textContent + " " + (option.getAttribute("data-search") || "")).toLowerCase();
      var shown = words.every(function (w) { return text.indexOf(w) >= 0; });
      option.hidden = !shown;
      if (shown && first === null) first = option;
    });
    if (first && (list.selectedOptions.length === 0 || list.selectedOptions[0].hidden)) first.selected = true;
  });
  document.addEventListener("keydown", function (event) {
    if (event.target.classList && event.target.classList.contains("code-search") && event.key === "Enter") {
      event.preventDefault();
      htmx.trigger(event.target.form, "submit");
    }
  });

  // span coding: offsets in code points of the document's text (not UTF-16 units)
  function codePoints(text) { return Array.from(text).length; }

  function offsetIn(container, node, offset) {
    var range = document.createRange();
    range.setStart(container, 0);
    range.setEnd(node, offset);
    return codePoints(range.toString());
  }

  document.addEventListener("mouseup", function (event) {
    var form = document.getElementById("spanform");
    if (!form || (event.target.closest && event.target.closest(".panel"))) return;
    var selection = window.getSelection();
    if (!selection || selection.isCollapsed || selection.rangeCount === 0) return;
    var range = selection.getRangeAt(0);
    var start = range.startContainer.parentElement && range.startContainer.parentElement.closest(".text");
    var end = range.endContainer.parentElement && range.endContainer.parentElement.closest(".text");
    if (!start || start !== end) return; // one segment at a time
    var base = parseInt(start.getAttribute("data-start"), 10);
    var from = base + offsetIn(start, range.startContainer, range.startOffset);
    var to = base + offsetIn(start, range.endContainer, range.endOffset);
    if (to <= from) return;
    var segment = start.closest(".seg");
    form.elements.segment_id.value = segment.getAttribute("data-segment");
    form.elements.start.value = from;
    form.elements.end.value = to;
    form.querySelector(".selected").textContent = "“" + range.toString() + "” (" + from + "–" + to + ")";
    var choices = form.querySelector(".span-suggestions");
    choices.length = 1;
    segment.querySelectorAll(".chip.suggested").forEach(function (chip) {
      var option = document.createElement("option");
      option.value = chip.getAttribute("data-suggestion");
      option.textContent = chip.textContent;
      option.setAttribute("data-code", chip.getAttribute("data-code"));
      choices.appendChild(option);
    });
    form.hidden = false;
    form.querySelector(".code-search").focus();
  });

  // accepting a suggestion on the span: its code is the one coded
  document.addEventListener("change", function (event) {
    if (!event.target.classList.contains("span-suggestions")) return;
    var chosen = event.target.selectedOptions[0];
    var code = chosen && chosen.getAttribute("data-code");
    if (code) event.target.form.elements.code.value = code;
  });

  document.addEventListener("htmx:afterSwap", function () {
    // the new item takes the keys, unless the analyst is typing in a panel meanwhile
    if (typing(document.activeElement) && document.activeElement.closest(".panel:not([hidden])")) return;
    var item = document.getElementById("item");
    if (item) item.focus();
  });
  document.addEventListener("DOMContentLoaded", function () {
    var item = document.getElementById("item");
    if (item) item.focus();
    var focus = document.querySelector(".seg.focus");
    if (focus) focus.scrollIntoView({block: "center"});
  });
})();
