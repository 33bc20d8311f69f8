// Draws each time-series chart from the JSON beside it; runs again after htmx swaps the panel.
(function () {
  var colors = { sent: '#1f5fbf', delivered: '#1b7f3b', bounced: '#b3261e', opened: '#7a4bc2', complained: '#a15c00' };
  function draw(root) {
    if (typeof uPlot === 'undefined') return;
    root.querySelectorAll('[data-series]').forEach(function (el) {
      var s = JSON.parse(el.getAttribute('data-series'));
      var xs = s.buckets.map(function (b) { return Date.parse(b) / 1000; });
      var names = Object.keys(s.counts);
      var series = [{}].concat(names.map(function (n) { return { label: n, stroke: colors[n] || '#333', width: 2 }; }));
      var data = [xs].concat(names.map(function (n) { return s.counts[n]; }));
      el.textContent = '';
      new uPlot({ width: Math.max(320, el.clientWidth || 600), height: 260, series: series, scales: { x: { time: true } } }, data, el);
    });
  }
  document.addEventListener('DOMContentLoaded', function () { draw(document); });
  document.addEventListener('htmx:afterSwap', function (e) { draw(e.target); });
})();
