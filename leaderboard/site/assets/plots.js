/* mlip-bench leaderboard: draws the plotly figures (loaded after plotly.min.js, only on pages
   with plots). Without plotly, each figure's static SVG is shown instead. */
(function () {
  "use strict";

  function showFallback(el) {
    var fallback = el.parentNode.querySelector("img.plot-fallback");
    if (fallback) {
      fallback.src = fallback.getAttribute("data-src");
      fallback.hidden = false;
    }
    el.hidden = true;
  }

  function renderPlots() {
    document.querySelectorAll(".plot[data-spec]").forEach(function (el) {
      var specEl = document.getElementById(el.getAttribute("data-spec"));
      if (!specEl) { return; }
      if (typeof window.Plotly === "undefined") { showFallback(el); return; }
      var spec = JSON.parse(specEl.textContent);
      window.Plotly.newPlot(el, spec.data, spec.layout, { displaylogo: false, responsive: true })
        .then(function () { el.setAttribute("data-rendered", "true"); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", renderPlots);
  } else {
    renderPlots();
  }
})();
