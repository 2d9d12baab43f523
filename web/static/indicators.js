// Supervision indicators: one Chart.js bar chart per section, beside its table of numbers.
// The data of each chart is in a <script type="application/json" class="chart-data"> element
// (labels already in the user's language); no inline script runs, so the CSP stays strict.
(function () {
  if (typeof Chart === 'undefined') return;
  const COLORS = ['#1d3557', '#2a9d8f', '#e9c46a', '#f4a261', '#e76f51', '#457b9d', '#8d99ae',
    '#6a4c93', '#b5838d', '#588157', '#bc4749', '#386641', '#9c6644', '#5e60ce'];
  document.querySelectorAll('script.chart-data').forEach(function (node) {
    const canvas = document.getElementById(node.dataset.canvas);
    if (!canvas) return;
    let data;
    try { data = JSON.parse(node.textContent); } catch (e) { return; }
    const chart = new Chart(canvas, {
      type: 'bar',
      data: {
        labels: data.labels,
        datasets: [{
          label: data.label,
          data: data.values,
          backgroundColor: data.values.map(function (_, i) { return COLORS[i % COLORS.length]; }),
        }],
      },
      options: {
        indexAxis: 'y',
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
    canvas.dataset.drawn = String(chart.data.datasets[0].data.length);
  });
})();
