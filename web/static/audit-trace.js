// The printable report's "Print" button (no inline script under the CSP).
(function () {
  const button = document.getElementById('print-report');
  if (button) button.addEventListener('click', () => window.print());
})();
