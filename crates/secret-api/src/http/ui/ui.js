// The web UI's one script (optional: every action works without it). It only shows and
// hides what is already on the page; it never fetches anything.
(function () {
  // Reveal toggles of masked inputs: hidden until this script runs.
  document.querySelectorAll('button[data-reveal]').forEach(function (b) { b.hidden = false; });
  document.addEventListener('click', function (e) {
    var b = e.target.closest('button[data-reveal]');
    if (!b) return;
    e.preventDefault();
    var f = document.getElementById(b.getAttribute('data-reveal'));
    if (!f) return;
    if (f.tagName === 'INPUT') {
      f.type = f.type === 'password' ? 'text' : 'password';
    } else {
      f.classList.toggle('shown');
    }
    b.textContent = b.textContent === 'Show' ? 'Hide' : 'Show';
  });
  // A picked file is read into the text area it names (nothing is uploaded until the
  // form is posted).
  document.querySelectorAll('input[type=file][data-fills]').forEach(function (input) {
    input.addEventListener('change', function () {
      var target = document.getElementById(input.getAttribute('data-fills'));
      var file = input.files && input.files[0];
      if (!target || !file) return;
      file.text().then(function (text) { target.value = text; });
    });
  });
  // A sign-in method picker shows only the chosen method's fields (without this script all
  // are shown, and only the chosen method's are saved).
  document.querySelectorAll('select[data-sections]').forEach(function (s) {
    var show = function () {
      document.querySelectorAll('.' + s.getAttribute('data-sections')).forEach(function (d) {
        d.hidden = d.getAttribute('data-method') !== s.value;
      });
    };
    s.addEventListener('change', show);
    show();
  });
  // A revealed value is masked again after 30 s (the page also reloads itself masked).
  var r = document.getElementById('revealed');
  if (r) {
    setTimeout(function () {
      r.textContent = '••••••••  (masked again; reveal once more to see it)';
      r.className = 'masked';
    }, 30000);
  }
})();
