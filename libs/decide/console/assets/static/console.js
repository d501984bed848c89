// The console's only script (served from this origin; the CSP allows no
// inline script). "/" focuses the search box; buttons with data-confirm
// ask before they submit.
document.addEventListener('keydown', function (e) {
  var t = e.target;
  if (e.key === '/' && t.tagName !== 'INPUT' && t.tagName !== 'TEXTAREA') {
    var q = document.getElementById('q');
    if (q) { e.preventDefault(); q.focus(); }
  }
});
document.addEventListener('click', function (e) {
  var b = e.target.closest('button[data-confirm]');
  if (b && !window.confirm(b.getAttribute('data-confirm'))) { e.preventDefault(); }
});
