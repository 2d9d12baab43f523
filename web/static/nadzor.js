// Behaviour of every page, kept out of the HTML so that the Content-Security-Policy can refuse
// inline scripts: a <select data-autosubmit> sends its form as soon as it changes (the language).
document.addEventListener('change', function (event) {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute('data-autosubmit') && target.form) {
    target.form.submit();
  }
});
