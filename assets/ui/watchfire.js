// watchfire web UI: charts (uPlot) from the JSON each page embeds, and completion of metric
// and label names on the query page. Every page works without this script.
(function () {
  "use strict";
  var palette = ["#0b57a4", "#1e6b34", "#8e44ad", "#c0392b", "#16a085", "#d35400", "#2c3e50", "#7f8c8d"];
  function drawChart(el) {
    var src = document.getElementById(el.getAttribute("data-chart"));
    if (!src || typeof uPlot === "undefined") { return; }
    var spec = JSON.parse(src.textContent);
    if (!spec.x || spec.x.length === 0) { el.textContent = "no samples in the buffer's window"; return; }
    var series = [{}];
    var data = [spec.x];
    spec.ys.forEach(function (ys, i) {
      series.push({ label: spec.names[i], stroke: palette[i % palette.length], width: 1.5, spanGaps: false });
      data.push(ys);
    });
    (spec.lines || []).forEach(function (line) {
      series.push({ label: line.name + " " + line.value, stroke: line.color, dash: [6, 4], width: 1.5 });
      data.push(spec.x.map(function () { return line.value; }));
    });
    var width = Math.max(300, el.clientWidth - 10);
    new uPlot({ width: width, height: 220, series: series, legend: { live: false },
      axes: [{}, { size: 70 }] }, data, el);
  }
  function charts(root) {
    var els = (root || document).querySelectorAll("[data-chart]");
    for (var i = 0; i < els.length; i++) { drawChart(els[i]); }
  }
  function completion() {
    var list = document.getElementById("metric-names");
    if (!list) { return; }
    var add = function (values) {
      var seen = {};
      values.forEach(function (v) {
        if (seen[v]) { return; }
        seen[v] = true;
        var o = document.createElement("option");
        o.value = v;
        list.appendChild(o);
      });
    };
    var get = function (url) {
      return fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : { data: [] }; })
        .then(function (j) { return j.data || []; }).catch(function () { return []; });
    };
    Promise.all([get("/api/v1/label/__name__/values"), get("/api/v1/labels")]).then(function (r) {
      add(r[0].slice(0, 5000).concat(r[1].slice(0, 1000)));
    });
  }
  document.addEventListener("DOMContentLoaded", function () { charts(document); completion(); });
  document.addEventListener("htmx:afterSwap", function (e) { charts(e.target); });
})();
