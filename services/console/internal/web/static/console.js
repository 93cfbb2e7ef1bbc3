// Draws every [data-chart] element with uPlot (bars: one group per label, one
// bar per series). The figures are also in a table beside each chart.
(function () {
  "use strict";
  var palette = ["#0b57d0", "#b3261e", "#146c2e", "#8a5a00", "#6f42c1", "#4a5360"];

  function dollars(c) {
    return "$" + (c / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function draw(el) {
    if (el.dataset.drawn === "1" || typeof uPlot === "undefined") { return; }
    var spec = JSON.parse(el.dataset.chart);
    el.dataset.drawn = "1";
    var n = spec.labels ? spec.labels.length : 0;
    if (n === 0) { el.textContent = spec.title + ": nothing to draw yet"; return; }
    var xs = [];
    for (var i = 0; i < n; i++) { xs.push(i); }
    var k = spec.series.length;
    var data = [xs];
    var series = [{}];
    spec.series.forEach(function (s, j) {
      data.push(s.values);
      var size = 0.8 / k;
      series.push({
        label: s.label,
        stroke: palette[j % palette.length],
        fill: palette[j % palette.length],
        width: 0,
        // grouped bars: series j's bar starts at x - 0.4 + j * size, in data units (uPlot's disp unit 1)
        paths: uPlot.paths.bars({ align: 1, disp: {
          x0: { unit: 1, values: function () { return xs.map(function (x) { return x - 0.4 + size * j; }); } },
          size: { unit: 1, values: function () { return xs.map(function () { return size * 0.9; }); } }
        } }),
        points: { show: false },
        value: function (u, v) { return v == null ? "" : (spec.money ? dollars(v) : v.toLocaleString("en-US")); }
      });
    });
    var width = Math.max(320, Math.min(el.clientWidth || 640, 900));
    new uPlot({
      title: spec.title,
      width: width,
      height: 220,
      series: series,
      scales: { x: { time: false, range: [-0.6, n - 0.4] }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
      axes: [
        { values: function (u, splits) { return splits.map(function (v) { return Number.isInteger(v) && spec.labels[v] !== undefined ? spec.labels[v] : ""; }); }, splits: function () { return xs; } },
        { values: function (u, splits) { return splits.map(function (v) { return spec.money ? dollars(v) : v.toLocaleString("en-US"); }); }, size: spec.money ? 90 : 60 }
      ],
      legend: { show: k > 1, live: false }
    }, data, el);
  }

  function drawAll(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (e) { drawAll(e.target.ownerDocument || document); });
})();
