// The drafts list (web/templates/drafts/list.html): deleting a draft asks first, with the
// question the form carries in data-confirm (a draft holds other methodologists' work too).
document.addEventListener('submit', function (event) {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
