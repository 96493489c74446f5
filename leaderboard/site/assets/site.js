/* mlip-bench leaderboard: table sorting and filtering (kept in the page URL, so a sorted or
   filtered view can be shared and survives a reload) and copy buttons. No network access.
   Loaded before any plot library: it runs as soon as the page is parsed. */
(function () {
  "use strict";

  /* URL state: ?sort.<table>=<column index><a|d>&filter.<table>=<text>&show.<table>.<kind>=0|1 */
  function params() { return new URLSearchParams(window.location.search); }

  function saveParam(key, value) {
    var p = params();
    if (value === null || value === "") { p.delete(key); } else { p.set(key, value); }
    var query = p.toString();
    var url = window.location.pathname + (query ? "?" + query : "") + window.location.hash;
    try { window.history.replaceState(null, "", url); } catch (e) { /* some file:// setups refuse: the view still works */ }
  }

  function cellValue(row, index, kind) {
    var cell = row.children[index];
    if (!cell) { return kind === "number" ? NaN : ""; }
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent;
    if (kind === "number") {
      var num = parseFloat(raw);
      return isNaN(num) ? NaN : num;
    }
    return raw.trim().toLowerCase();
  }

  function sortTable(table, th, ascending) {
    var headers = Array.prototype.slice.call(th.parentNode.children);
    var index = headers.indexOf(th);
    var kind = th.getAttribute("data-sort") || "text";
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, kind);
      var y = cellValue(b, index, kind);
      if (kind === "number") {
        var xNaN = isNaN(x), yNaN = isNaN(y);
        if (xNaN && yNaN) { return 0; }
        if (xNaN) { return 1; }   /* missing values always last */
        if (yNaN) { return -1; }
        return ascending ? x - y : y - x;
      }
      if (x === y) { return 0; }
      return (x < y ? -1 : 1) * (ascending ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    if (table.id) { saveParam("sort." + table.id, index + (ascending ? "a" : "d")); }
  }

  function applyFilters(tableId) {
    var table = document.getElementById(tableId);
    if (!table) { return; }
    var input = document.querySelector('.table-filter[data-table="' + tableId + '"]');
    var query = input ? input.value.trim().toLowerCase() : "";
    var hiddenKinds = {};
    document.querySelectorAll('.kind-toggle[data-table="' + tableId + '"]').forEach(function (box) {
      if (!box.checked) { hiddenKinds[box.getAttribute("data-kind")] = true; }
    });
    var shown = 0, total = 0;
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      total += 1;
      var matches = !query || row.textContent.toLowerCase().indexOf(query) !== -1;
      var kindOk = !hiddenKinds[row.getAttribute("data-kind")];
      row.hidden = !(matches && kindOk);
      if (!row.hidden) { shown += 1; }
    });
    var counter = document.querySelector('.row-count[data-table="' + tableId + '"]');
    if (counter) { counter.textContent = shown + " of " + total + " rows"; }
  }

  function setUpTables() {
    var p = params();
    document.querySelectorAll("table.sortable").forEach(function (table) {
      var ths = table.querySelectorAll("thead th[data-sort]");
      ths.forEach(function (th) {
        th.tabIndex = 0;
        th.title = "click to sort";
        var toggle = function () { sortTable(table, th, th.getAttribute("aria-sort") !== "ascending"); };
        th.addEventListener("click", toggle);
        th.addEventListener("keydown", function (ev) {
          if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); toggle(); }
        });
      });
      var saved = table.id ? p.get("sort." + table.id) : null;
      var m = saved ? /^(\d+)([ad])$/.exec(saved) : null;
      if (m) {
        var th = table.tHead.rows[0].cells[parseInt(m[1], 10)];
        if (th && th.hasAttribute("data-sort")) { sortTable(table, th, m[2] === "a"); }
      }
    });
    document.querySelectorAll(".kind-toggle").forEach(function (box) {
      var id = box.getAttribute("data-table");
      var key = "show." + id + "." + box.getAttribute("data-kind");
      var byDefault = box.defaultChecked;
      if (p.has(key)) { box.checked = p.get(key) === "1"; }
      box.addEventListener("change", function () {
        saveParam(key, box.checked === byDefault ? null : (box.checked ? "1" : "0"));
        applyFilters(id);
      });
    });
    document.querySelectorAll(".table-filter").forEach(function (input) {
      var id = input.getAttribute("data-table");
      var saved = p.get("filter." + id);
      if (saved !== null) { input.value = saved; }
      input.addEventListener("input", function () {
        saveParam("filter." + id, input.value.trim());
        applyFilters(id);
      });
      applyFilters(id);
    });
    document.querySelectorAll("table.sortable").forEach(function (table) {
      if (table.id && !document.querySelector('.table-filter[data-table="' + table.id + '"]')) { applyFilters(table.id); }
    });
    document.documentElement.setAttribute("data-tables-ready", "true");
  }

  function setUpCopy() {
    document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        if (!source) { return; }
        var text = source.textContent;
        var done = function () { button.textContent = "Copied"; };
        var selectIt = function () {
          var range = document.createRange();
          range.selectNodeContents(source);
          var sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
          button.textContent = "Selected: press Ctrl+C";
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, selectIt);
        } else {
          selectIt();
        }
      });
    });
  }

  function start() {
    setUpTables();
    setUpCopy();
  }
  /* a deferred script runs once the document is parsed: set the tables up now, before the
     (deferred, larger) plot library that follows it is executed */
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
