/* mlip-bench leaderboard: plots, table sorting and filtering, copy buttons. No network access. */
(function () {
  "use strict";

  function renderPlots() {
    var boxes = document.querySelectorAll(".plot[data-spec]");
    boxes.forEach(function (el) {
      var specEl = document.getElementById(el.getAttribute("data-spec"));
      if (!specEl) { return; }
      if (typeof window.Plotly === "undefined") {
        var fallback = el.parentNode.querySelector("img.plot-fallback");
        if (fallback) { fallback.hidden = false; }
        el.hidden = true;
        return;
      }
      var spec = JSON.parse(specEl.textContent);
      window.Plotly.newPlot(el, spec.data, spec.layout, { displaylogo: false, responsive: true })
        .then(function () { el.setAttribute("data-rendered", "true"); });
    });
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

  function sortTable(table, th) {
    var headers = Array.prototype.slice.call(th.parentNode.children);
    var index = headers.indexOf(th);
    var kind = th.getAttribute("data-sort") || "text";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
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
    document.querySelectorAll("table.sortable").forEach(function (table) {
      table.querySelectorAll("thead th[data-sort]").forEach(function (th) {
        th.tabIndex = 0;
        th.title = "click to sort";
        th.addEventListener("click", function () { sortTable(table, th); });
        th.addEventListener("keydown", function (ev) {
          if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortTable(table, th); }
        });
      });
    });
    document.querySelectorAll(".table-filter").forEach(function (input) {
      var id = input.getAttribute("data-table");
      input.addEventListener("input", function () { applyFilters(id); });
      applyFilters(id);
    });
    document.querySelectorAll(".kind-toggle").forEach(function (box) {
      box.addEventListener("change", function () { applyFilters(box.getAttribute("data-table")); });
    });
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

  document.addEventListener("DOMContentLoaded", function () {
    setUpTables();
    setUpCopy();
    renderPlots();
  });
})();
