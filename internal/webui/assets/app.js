// hookd web UI: progressive enhancement of server-rendered pages. Everything works without
// this file except local times, secret generation and live updates.
(function () {
  'use strict';
  document.documentElement.classList.add('js');

  // This year's dates leave the year out; times show seconds, since attempts are seconds apart.
  var thisYear = new Date().getFullYear();
  var timeFormat = new Intl.DateTimeFormat(undefined, {
    month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit'
  });
  var yearFormat = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit'
  });

  // Times are rendered in UTC; show them in the browser's zone, the UTC value on hover.
  function localTime(el) {
    var iso = el.getAttribute('datetime');
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return; }
    el.textContent = (d.getFullYear() === thisYear ? timeFormat : yearFormat).format(d);
    el.title = iso.replace('T', ' ').replace(/\.\d+/, '').replace('Z', ' UTC');
  }

  function setTime(cell, iso) {
    if (!iso) { cell.textContent = '–'; return; }
    var t = document.createElement('time');
    t.setAttribute('datetime', iso);
    t.textContent = iso;
    cell.replaceChildren(t);
    localTime(t);
  }

  // A random secret of 32 characters the form accepts (printable ASCII without spaces).
  function generateSecret() {
    var alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_';
    var bytes = new Uint8Array(32);
    crypto.getRandomValues(bytes);
    var s = '';
    for (var i = 0; i < bytes.length; i++) { s += alphabet[bytes[i] % alphabet.length]; }
    return s;
  }

  function initForms() {
    document.querySelectorAll('[data-generate]').forEach(function (btn) {
      btn.addEventListener('click', function () {
        var input = document.getElementById(btn.getAttribute('data-generate'));
        input.type = 'text';
        input.value = generateSecret();
        input.focus();
        input.select();
      });
    });
    // "Send everything" greys out the trigger checkboxes.
    var radios = document.querySelectorAll('[data-scope]');
    var list = document.getElementById('trigger-list');
    function syncScope() {
      var all = document.querySelector('[data-scope][value="all"]');
      if (list && all) { list.classList.toggle('off', all.checked); }
    }
    radios.forEach(function (r) { r.addEventListener('change', syncScope); });
    if (list) {
      list.addEventListener('change', function (e) {
        var some = document.querySelector('[data-scope][value="some"]');
        if (e.target.checked && some) { some.checked = true; syncScope(); }
      });
    }
    syncScope();
    // The history filter's times are the browser's: send its UTC offset on that date.
    var filters = document.getElementById('filters');
    if (filters) {
      filters.addEventListener('submit', function () {
        var date = filters.querySelector('[name=date]').value;
        var tz = filters.querySelector('[data-tz]');
        var d = date ? new Date(date + 'T12:00:00') : new Date();
        tz.value = String(d.getTimezoneOffset());
        // Leave empty fields out of the URL, so that a shared view reads well.
        filters.querySelectorAll('input[name], select[name]').forEach(function (el) {
          if (el.type !== 'checkbox' && el.value === '') { el.disabled = true; }
        });
        tz.disabled = !date;
      });
      // Coming back through the history shows the form as it was: usable again.
      window.addEventListener('pageshow', function () {
        filters.querySelectorAll('[disabled]').forEach(function (el) { el.disabled = false; });
      });
    }
  }

  // Multi-select: "select all" and a count on the batch button.
  function initSelection() {
    var form = document.getElementById('deliveries');
    if (!form) { return; }
    var all = form.querySelector('[data-select-all]');
    var batch = form.querySelector('[data-batch]');
    function boxes() { return form.querySelectorAll('input[name=sel]'); }
    function sync() {
      var n = 0;
      boxes().forEach(function (b) { if (b.checked) { n++; } });
      if (batch) {
        batch.disabled = n === 0;
        batch.textContent = n ? 'Retry selected (' + n + ')' : 'Retry selected';
      }
      if (all) {
        all.checked = n > 0 && n === boxes().length;
        all.indeterminate = n > 0 && n < boxes().length;
      }
    }
    if (all) {
      all.addEventListener('change', function () {
        boxes().forEach(function (b) { b.checked = all.checked; });
        sync();
      });
    }
    form.addEventListener('change', function (e) {
      if (e.target.name === 'sel') { sync(); }
    });
    sync();
  }

  var POLL_MS = 2000;

  function updateRow(tr, row) {
    var badge = tr.querySelector('[data-cell=badge] .badge');
    if (badge) {
      badge.className = 'badge badge-' + row.badgeClass;
      badge.textContent = row.badgeText;
      badge.title = row.badgeTitle;
    }
    var delivery = tr.querySelector('[data-cell=delivery]');
    if (delivery) { setTime(delivery, row.delivery); }
    var attempts = tr.querySelector('[data-cell=attempts]');
    if (attempts) { attempts.textContent = String(row.attempts); }
    tr.setAttribute('data-state', row.state);
    if (!row.live) { tr.removeAttribute('data-live'); }
  }

  // The history polls the deliveries still in flight, and whether newer ones match.
  function initLive() {
    var form = document.querySelector('[data-live-url]');
    if (!form) { return; }
    var base = form.getAttribute('data-live-url');
    var watchNewer = base.indexOf('since=') >= 0;
    var newer = document.getElementById('newer');
    function tick() {
      var ids = [];
      form.querySelectorAll('tr[data-live]').forEach(function (tr) { ids.push(tr.getAttribute('data-id')); });
      if (!ids.length && !watchNewer) { return; }
      var url = base + (base.indexOf('?') >= 0 ? '&' : '?') + 'ids=' + ids.join(',');
      fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; } // signed out: stop
          data.rows.forEach(function (row) {
            var tr = form.querySelector('tr[data-id="' + row.id + '"]');
            if (tr) { updateRow(tr, row); }
          });
          if (newer && data.newer > 0) {
            newer.querySelector('span').textContent = data.newer === 1 ?
              '1 new delivery.' : data.newer + ' new deliveries.';
            newer.hidden = false;
          }
          setTimeout(tick, POLL_MS);
        })
        .catch(function () { setTimeout(tick, POLL_MS * 5); });
    }
    setTimeout(tick, POLL_MS);
  }

  // A delivery's details page reloads once the delivery stops changing.
  function initReload() {
    var el = document.querySelector('[data-live-reload]');
    if (!el) { return; }
    var url = el.getAttribute('data-live-reload');
    var last = el.getAttribute('data-live-key');
    function tick() {
      fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data || !data.rows.length) { return; }
          var row = data.rows[0];
          var key = row.state + '/' + row.attempts;
          if (!row.live || key !== last) { location.reload(); return; }
          setTimeout(tick, POLL_MS);
        })
        .catch(function () { setTimeout(tick, POLL_MS * 5); });
    }
    setTimeout(tick, POLL_MS);
  }

  function init() {
    document.querySelectorAll('time[datetime]').forEach(localTime);
    initForms();
    initSelection();
    initLive();
    initReload();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
