// Accessibility of forms (WCAG 2.1 AA, 3.3.1 and 2.4.3), kept out of the HTML because the
// Content-Security-Policy refuses inline scripts.
// - After a failed submit the page carries an error summary (or an error message) marked
//   data-error-summary: the focus goes there, so a screen reader reads what went wrong first and
//   a keyboard user starts from the list of errors instead of the top of the page.
// - A link of the summary ("#f_<key>") focuses its field and scrolls its label or legend into
//   view (following the bare anchor would hide the label above the top edge, and would not focus
//   a radio group).
(function () {
  function focusSummary() {
    const summary = document.querySelector('[data-error-summary]');
    if (summary) summary.focus();
  }

  function labelOf(input) {
    const fieldset = input.closest('fieldset');
    if (fieldset && fieldset.querySelector('legend')) return fieldset.querySelector('legend');
    if (input.id) {
      const label = document.querySelector('label[for="' + CSS.escape(input.id) + '"]');
      if (label) return label;
    }
    return input.closest('label') || input;
  }

  document.addEventListener('click', function (event) {
    const link = event.target instanceof Element ? event.target.closest('.error-summary a[href^="#"]') : null;
    if (!link) return;
    const input = document.getElementById(decodeURIComponent(link.getAttribute('href').slice(1)));
    if (!input) return;
    event.preventDefault();
    labelOf(input).scrollIntoView({ block: 'start' });
    input.focus({ preventScroll: true });
  });

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', focusSummary);
  } else {
    focusSummary();
  }
})();
