// kpcap report timeline: lanes per CPU and thread drawn on a canvas from
// density buckets (zoomed out) or individual slices and ticks (zoomed in).
// Wheel or +/-/W/S zoom, drag or arrows/A/D pan, 0 resets, click shows an
// item. "#tl=START,END" (ns offsets) sets the view, "#tl-slice=I" shows
// slice I. The canvas' data-* attributes report what was drawn (tests).
(function () {
  'use strict';
  var src = document.getElementById('tl-data');
  var cv = document.getElementById('tl-canvas');
  if (!src || !cv) return;
  var T = JSON.parse(src.textContent);
  var detail = document.getElementById('tl-detail');
  var rangeEl = document.getElementById('tl-range');
  var ctx = cv.getContext('2d');
  var LABEL = 180, AXIS = 22, ITEM_LIMIT = 40000, MAX_ROWS = 4;
  var span = Math.max(T.span_ns, 1);
  var S = T.slices, I = T.instants, L = T.losses;
  var nS = S.start.length, nI = I.t.length, nL = L.t.length;
  var palette = ['#3b7dd8', '#e8853d', '#4aa564', '#9b59b6', '#c9a227', '#17a2b8', '#d9534f', '#7f8c8d'];

  // Lane geometry: thread lanes hold nested slices in rows.
  var lanes = T.lanes, laneY = [], laneH = [], y = AXIS;
  lanes.forEach(function (l) {
    var h = l.kind === 'thread' || l.kind === 'threads' ? 34 : l.kind === 'loss' ? 16 : 20;
    laneY.push(y); laneH.push(h); y += h + 2;
  });
  var totalH = y + 4;

  // Rows: a slice goes to the first row free at its start (nesting puts
  // inner calls below outer ones).
  var row = new Int8Array(nS), rowEnd = lanes.map(function () { return []; }), maxDur = 0;
  for (var i = 0; i < nS; i++) {
    var ends = rowEnd[S.lane[i]] || [], r = 0;
    while (r < ends.length && ends[r] > S.start[i]) r++;
    if (r >= MAX_ROWS) r = MAX_ROWS - 1;
    ends[r] = S.start[i] + S.dur[i];
    row[i] = r;
    if (S.dur[i] > maxDur) maxDur = S.dur[i];
  }

  // Density pyramids: level k has buckets of bucket_ns * 2^k.
  var pyr = lanes.map(function (l) {
    var levels = [l.density], cur = l.density;
    while (cur.length > 1) {
      var n = new Float64Array((cur.length + 1) >> 1);
      for (var j = 0; j < cur.length; j++) n[j >> 1] += cur[j];
      levels.push(n); cur = n;
    }
    return levels.map(function (d) {
      var m = 0;
      for (var j = 0; j < d.length; j++) if (d[j] > m) m = d[j];
      return { d: d, max: m };
    });
  });

  var v0 = 0, v1 = span, sel = null, dpr = window.devicePixelRatio || 1, W = 0;

  function lower(arr, n, x) { // first index with arr[i] >= x
    var lo = 0, hi = n;
    while (lo < hi) { var m = (lo + hi) >> 1; if (arr[m] < x) lo = m + 1; else hi = m; }
    return lo;
  }
  function fmtNS(ns) { // 3 decimals, trailing zeros dropped
    var a = Math.abs(ns), u = a >= 1e9 ? [1e9, ' s'] : a >= 1e6 ? [1e6, ' ms'] : a >= 1e3 ? [1e3, ' µs'] : [1, ' ns'];
    return String(+(ns / u[0]).toFixed(3)) + u[1];
  }
  function fmtAxis(at, step) { // as many decimals as the step needs
    var u = at >= 1e9 ? [1e9, ' s'] : at >= 1e6 ? [1e6, ' ms'] : at >= 1e3 ? [1e3, ' µs'] : [1, ' ns'];
    var dec = Math.min(9, Math.max(0, Math.ceil(-Math.log10(step / u[0]) - 1e-9)));
    return (at / u[0]).toFixed(dec) + u[1];
  }
  function kept(t) { // individual items kept at offset t
    if (T.truncated_ns && t >= T.truncated_ns) return false;
    return Math.floor(t / T.window_ns) % T.stride === 0;
  }
  function setView(a, b) {
    var w = Math.max(b - a, 1000);
    if (w > span) w = span;
    a = Math.min(Math.max(a, 0), span - w);
    v0 = a; v1 = a + w;
    draw();
  }
  function resize() {
    W = Math.max(cv.parentNode.clientWidth, 400);
    cv.style.width = W + 'px'; cv.style.height = totalH + 'px';
    cv.width = Math.round(W * dpr); cv.height = Math.round(totalH * dpr);
  }

  function draw() {
    var plotW = W - LABEL, nsPx = (v1 - v0) / plotW;
    var X = function (t) { return LABEL + (t - v0) / nsPx; };
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, totalH);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    // Density under everything; items on top when few enough are in view.
    var sFrom = lower(S.start, nS, v0 - maxDur), sTo = lower(S.start, nS, v1 + 1);
    var iFrom = lower(I.t, nI, v0), iTo = lower(I.t, nI, v1 + 1);
    var items = (sTo - sFrom) + (iTo - iFrom) <= ITEM_LIMIT;
    lanes.forEach(function (l, li) {
      var ly = laneY[li], lh = laneH[li];
      ctx.fillStyle = li % 2 ? '#fafafa' : '#f3f5f8';
      ctx.fillRect(LABEL, ly, plotW, lh);
      // With every item at hand, density would only blur the slices.
      if (items && T.stride === 1 && !T.truncated_ns && l.kind !== 'loss') return;
      var levels = pyr[li], k = 0;
      while (k + 1 < levels.length && T.bucket_ns * Math.pow(2, k + 1) <= nsPx) k++;
      var lv = levels[k], bw = T.bucket_ns * Math.pow(2, k);
      if (lv.max > 0) {
        var b0 = Math.max(0, Math.floor(v0 / bw)), b1 = Math.min(lv.d.length, Math.ceil(v1 / bw) + 1);
        var lmax = Math.log(1 + lv.max);
        ctx.fillStyle = l.kind === 'loss' ? '#e57373' : items ? '#c8d3e0' : '#7a9cc6';
        for (var b = b0; b < b1; b++) {
          var c = lv.d[b];
          if (!c) continue;
          var h = Math.max(2, (lh - 2) * Math.log(1 + c) / lmax);
          var x = X(b * bw), w = Math.max(bw / nsPx, 1);
          if (x + w < LABEL) continue;
          if (x < LABEL) { w -= LABEL - x; x = LABEL; }
          ctx.fillRect(x, ly + lh - h, w, h);
        }
      }
    });
    var drawnSlices = 0, drawnTicks = 0, drawnLoss = 0;
    if (items) {
      // Time ranges without kept items are hatched.
      if (T.stride > 1 || T.truncated_ns) {
        ctx.fillStyle = 'rgba(120,120,120,0.10)';
        var w0 = Math.floor(v0 / T.window_ns), w1 = Math.ceil(v1 / T.window_ns);
        for (var wi = w0; wi <= w1 && wi - w0 < 4 * plotW; wi++) {
          if (kept(wi * T.window_ns)) continue;
          var xa = Math.max(LABEL, X(wi * T.window_ns)), xb = Math.min(W, X((wi + 1) * T.window_ns));
          if (xb > xa) ctx.fillRect(xa, AXIS, xb - xa, totalH - AXIS);
        }
      }
      for (var s = sFrom; s < sTo; s++) {
        var st = S.start[s], en = st + S.dur[s];
        if (en < v0) continue;
        var li = S.lane[s], rh = (laneH[li] - 2) / MAX_ROWS;
        var xs = Math.max(X(st), LABEL), xe = Math.min(X(en), W);
        ctx.fillStyle = palette[S.func[s] % palette.length];
        ctx.fillRect(xs, laneY[li] + 1 + row[s] * rh, Math.max(xe - xs, 1), rh - 1);
        drawnSlices++;
      }
      ctx.fillStyle = '#222';
      for (var t = iFrom; t < iTo; t++) {
        var xt = X(I.t[t]);
        [I.lane[t], I.cpu_lane[t]].forEach(function (li) {
          if (li >= 0) ctx.fillRect(xt - 0.5, laneY[li], 1.5, laneH[li]);
        });
        drawnTicks++;
      }
    }
    // Loss records are few: always drawn, on the loss lane.
    var lossLane = lanes.length - 1;
    ctx.fillStyle = '#c62828';
    for (var q = lower(L.t, nL, v0); q < nL && L.t[q] <= v1; q++) {
      ctx.fillRect(X(L.t[q]) - 1, laneY[lossLane], 2, laneH[lossLane]);
      drawnLoss++;
    }
    if (sel) {
      ctx.strokeStyle = '#000'; ctx.lineWidth = 2;
      var sx = Math.max(X(sel.t0), LABEL), ex = Math.min(X(sel.t1), W);
      ctx.strokeRect(sx - 1, sel.y - 1, Math.max(ex - sx, 1) + 2, sel.h + 2);
    }
    // Labels and axis over the drawing.
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, LABEL, totalH); ctx.fillRect(0, 0, W, AXIS);
    lanes.forEach(function (l, li) {
      ctx.fillStyle = l.kind === 'loss' ? '#b00' : l.kind === 'cpu' ? '#555' : '#222';
      var name = l.name.length > 26 ? l.name.slice(0, 25) + '…' : l.name;
      ctx.fillText(name, 4, laneY[li] + laneH[li] / 2);
    });
    var want = nsPx * 110, step = Math.pow(10, Math.floor(Math.log10(want)));
    if (want / step > 5) step *= 10; else if (want / step > 2) step *= 5; else if (want / step > 1) step *= 2;
    ctx.fillStyle = '#555'; ctx.strokeStyle = '#ccc'; ctx.lineWidth = 1;
    for (var at = Math.ceil(v0 / step) * step; at <= v1; at += step) {
      var ax = Math.round(X(at)) + 0.5;
      ctx.beginPath(); ctx.moveTo(ax, AXIS - 6); ctx.lineTo(ax, AXIS); ctx.stroke();
      ctx.fillText('+' + fmtAxis(at, step), ax + 3, 8);
    }
    ctx.fillText(items ? 'individual events' : 'density (zoom in for events)', 4, 8);
    rangeEl.textContent = '+' + fmtNS(v0) + ' … +' + fmtNS(v1) + ' (' + fmtNS(v1 - v0) + ' shown)';
    cv.setAttribute('data-view', Math.round(v0) + ',' + Math.round(v1));
    cv.setAttribute('data-mode', items ? 'items' : 'density');
    cv.setAttribute('data-drawn-slices', drawnSlices);
    cv.setAttribute('data-drawn-ticks', drawnTicks);
    cv.setAttribute('data-drawn-losses', drawnLoss);
  }

  function row2(k, v) {
    var tr = document.createElement('tr'), a = document.createElement('td'), b = document.createElement('td');
    a.textContent = k; b.textContent = v; tr.appendChild(a); tr.appendChild(b);
    return tr;
  }
  function wall(t) {
    if (!T.wall_offset_ns) return '';
    var ms = (T.start_ns + t + T.wall_offset_ns) / 1e6;
    return new Date(ms).toISOString();
  }
  function show(rows) {
    var tb = document.createElement('table');
    tb.className = 'kv';
    rows.forEach(function (r) { tb.appendChild(row2(r[0], r[1])); });
    detail.textContent = '';
    detail.appendChild(tb);
  }
  function laneRows(li) {
    var l = lanes[li];
    if (l.kind === 'thread') return [['Thread', l.name], ['PID / TID', l.pid + ' / ' + l.tid]];
    return [['Lane', l.name]];
  }
  function selectSlice(s) {
    var li = S.lane[s], rh = (laneH[li] - 2) / MAX_ROWS;
    sel = { t0: S.start[s], t1: S.start[s] + S.dur[s], y: laneY[li] + 1 + row[s] * rh, h: rh - 1 };
    show([['Slice', T.funcs[S.func[s]] || '?'], ['Duration', fmtNS(S.dur[s])], ['Start', '+' + fmtNS(S.start[s]) + ' ' + wall(S.start[s])],
      ['End', '+' + fmtNS(S.start[s] + S.dur[s])]].concat(laneRows(li), [['CPU (at return)', String(S.cpu[s])]],
      S.text[s] >= 0 ? [['Entry fields', T.strings[S.text[s]]]] : [], S.ret_text[s] >= 0 ? [['Return fields', T.strings[S.ret_text[s]]]] : [],
      [['Slice index', String(s)]]));
  }
  function selectTick(t, li) {
    sel = { t0: I.t[t], t1: I.t[t], y: laneY[li], h: laneH[li] };
    var rows = [['Event', T.sources[I.src[t]] || '(unknown source)'], ['Time', '+' + fmtNS(I.t[t]) + ' ' + wall(I.t[t])]].concat(laneRows(I.lane[t]));
    if (I.cpu_lane[t] >= 0) rows.push(['CPU', lanes[I.cpu_lane[t]].name]);
    if (I.text[t] >= 0) rows.push(['Fields', T.strings[I.text[t]]]);
    show(rows);
  }
  function pick(x, y) {
    var plotW = W - LABEL, nsPx = (v1 - v0) / plotW, t = v0 + (x - LABEL) * nsPx, li = -1;
    for (var k = 0; k < lanes.length; k++) if (y >= laneY[k] && y < laneY[k] + laneH[k]) li = k;
    if (li < 0 || x < LABEL) return;
    var slack = 3 * nsPx;
    if (cv.getAttribute('data-mode') === 'items') {
      var best = -1;
      if (lanes[li].kind === 'thread' || lanes[li].kind === 'threads') {
        var r = Math.floor((y - laneY[li] - 1) / ((laneH[li] - 2) / MAX_ROWS));
        for (var s = lower(S.start, nS, t - maxDur - slack), e = lower(S.start, nS, t + slack + 1); s < e; s++) {
          if (S.lane[s] === li && row[s] === r && S.start[s] + S.dur[s] + slack >= t && (best < 0 || S.dur[s] < S.dur[best])) best = s;
        }
        if (best >= 0) { selectSlice(best); draw(); return; }
      }
      if (lanes[li].kind === 'loss') {
        for (var q = lower(L.t, nL, t - slack); q < nL && L.t[q] <= t + slack; q++) {
          sel = { t0: L.t[q], t1: L.t[q], y: laneY[li], h: laneH[li] };
          show([['Lost samples', String(L.count[q])], ['Time', '+' + fmtNS(L.t[q]) + ' ' + wall(L.t[q])], ['CPU', L.cpu[q] < 0 ? 'not tied to a CPU' : String(L.cpu[q])]]);
          draw(); return;
        }
      }
      for (var i = lower(I.t, nI, t - slack); i < nI && I.t[i] <= t + slack; i++) {
        if (I.lane[i] === li || I.cpu_lane[i] === li) { selectTick(i, li); draw(); return; }
      }
    }
    // Nothing individual there: the density bucket under the pointer.
    var b = Math.floor(t / T.bucket_ns), c = pyr[li][0].d[b] || 0;
    sel = null;
    show(laneRows(li).concat([[lanes[li].kind === 'loss' ? 'Lost samples' : 'Events', c + ' in +' + fmtNS(b * T.bucket_ns) + ' … +' + fmtNS((b + 1) * T.bucket_ns)],
      ['Individual events', kept(t) ? 'kept here: zoom in' : 'omitted here (see above)']]));
    draw();
  }

  function zoom(f, at) {
    var a = at === undefined ? (v0 + v1) / 2 : at;
    setView(a - (a - v0) * f, a + (v1 - a) * f);
  }
  function pan(f) { var w = v1 - v0; setView(v0 + w * f, v1 + w * f); }
  function focusSlice(s) {
    var d = Math.max(S.dur[s], 1000);
    setView(S.start[s] - 4 * d, S.start[s] + 5 * d);
    selectSlice(s); draw();
    cv.scrollIntoView({ block: 'center' });
  }
  function fromHash() {
    var h = location.hash, m;
    if ((m = /^#tl-slice=(\d+)$/.exec(h)) && +m[1] < nS) { focusSlice(+m[1]); return; }
    if ((m = /^#tl=([\d.]+),([\d.]+)$/.exec(h))) setView(+m[1], +m[2]);
  }

  cv.addEventListener('wheel', function (e) {
    e.preventDefault();
    var rect = cv.getBoundingClientRect(), x = e.clientX - rect.left;
    if (Math.abs(e.deltaX) > Math.abs(e.deltaY) || e.shiftKey) { pan((e.deltaX || e.deltaY) / 500); return; }
    var at = v0 + Math.max(0, x - LABEL) * (v1 - v0) / (W - LABEL);
    zoom(e.deltaY > 0 ? 1.25 : 0.8, at);
  }, { passive: false });
  var drag = null;
  cv.addEventListener('mousedown', function (e) { drag = { x: e.clientX, v0: v0, v1: v1, moved: false }; cv.focus(); });
  window.addEventListener('mousemove', function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x;
    if (Math.abs(dx) > 2) drag.moved = true;
    if (drag.moved) { var d = dx * (drag.v1 - drag.v0) / (W - LABEL); setView(drag.v0 - d, drag.v1 - d); }
  });
  window.addEventListener('mouseup', function (e) {
    if (drag && !drag.moved) { var r = cv.getBoundingClientRect(); pick(e.clientX - r.left, e.clientY - r.top); }
    drag = null;
  });
  cv.addEventListener('keydown', function (e) {
    var k = e.key, done = true;
    if (k === '+' || k === '=' || k === 'w' || k === 'W') zoom(0.5);
    else if (k === '-' || k === '_' || k === 's' || k === 'S') zoom(2);
    else if (k === 'ArrowLeft' || k === 'a' || k === 'A') pan(-0.2);
    else if (k === 'ArrowRight' || k === 'd' || k === 'D') pan(0.2);
    else if (k === '0' || k === 'Home') setView(0, span);
    else done = false;
    if (done) e.preventDefault();
  });
  document.querySelectorAll('[data-tl]').forEach(function (b) {
    b.addEventListener('click', function () {
      var a = b.getAttribute('data-tl');
      if (a === 'in') zoom(0.5); else if (a === 'out') zoom(2); else if (a === 'left') pan(-0.2); else if (a === 'right') pan(0.2); else setView(0, span);
    });
  });
  document.querySelectorAll('a.tl-outlier').forEach(function (a) {
    a.addEventListener('click', function (e) { // same hash again: no hashchange
      if (location.hash === a.getAttribute('href')) { e.preventDefault(); fromHash(); }
    });
  });
  window.addEventListener('hashchange', fromHash);
  window.addEventListener('resize', function () { resize(); draw(); });
  resize();
  draw();
  fromHash();
  cv.setAttribute('data-init-ms', Math.round(performance.now()));
  cv.setAttribute('data-top', Math.round(cv.getBoundingClientRect().top + window.scrollY));
  cv.setAttribute('data-height', totalH);
  cv.setAttribute('data-ready', '1');
})();
