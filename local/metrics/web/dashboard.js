// The local dashboard: draws the definition's widgets (GET data) with uPlot,
// in the definition's rows and widths, and the alarms' states, refreshed live.
'use strict';
(() => {
  const UNIT = 48; // pixels per CloudWatch grid unit of height
  const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
  const charts = new Map(); // widget key -> { plot, labels }
  let built = false;

  const fmtDuration = (s) => (s >= 60 ? `${s / 60} min` : `${s} s`);
  const ops = {
    GreaterThanOrEqualToThreshold: '≥',
    GreaterThanThreshold: '>',
    LessThanThreshold: '<',
    LessThanOrEqualToThreshold: '≤',
  };

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const c of children) e.append(c);
    return e;
  }

  function build(data) {
    const grid = document.getElementById('grid');
    data.rows.forEach((row, r) => {
      const rowEl = el('div', { class: 'row' });
      row.forEach((w, i) => {
        const key = `${r}.${i}`;
        const span = `grid-column: span ${w.width}`;
        if (w.text) {
          rowEl.append(el('div', { class: 'widget text', style: span }, el('h2', {}, w.text.replace(/^#+\s*/, ''))));
          return;
        }
        const box = el('div', { class: 'widget graph', style: span, 'data-widget': w.title });
        box.append(el('h3', {}, w.title), el('div', { class: 'badges' }));
        if (w.note) box.append(el('p', { class: 'note' }, w.note));
        box.append(el('div', { class: 'empty', hidden: '' }, 'no local data yet'), el('div', { class: 'chart' }));
        rowEl.append(box);
        charts.set(key, { box, height: w.height * UNIT - 90, plot: null, labels: '' });
      });
      grid.append(rowEl);
    });
    built = true;
  }

  // align puts every line (and each alarm's threshold) on one time axis.
  function align(w, alarms, now, period) {
    const xs = new Set();
    for (const l of w.lines ?? []) for (const [t] of l.points) xs.add(t);
    if (xs.size === 0) return null;
    const x = [...xs].sort((a, b) => a - b);
    if (x.length === 1) x.unshift(x[0] - period);
    const ys = (w.lines ?? []).map((l) => {
      const m = new Map(l.points);
      return x.map((t) => (m.has(t) ? m.get(t) : null));
    });
    const thresholds = (w.alarms ?? []).map((id) => alarms.get(id)).filter(Boolean);
    for (const a of thresholds) ys.push(x.map(() => a.threshold));
    const labels = [...(w.lines ?? []).map((l) => l.label), ...thresholds.map((a) => `${a.id} threshold`)];
    return { data: [x, ...ys], labels, thresholds: thresholds.length };
  }

  function draw(c, aligned) {
    const labelKey = aligned.labels.join('\n');
    const width = Math.max(200, c.box.clientWidth - 16);
    if (!c.plot || c.labels !== labelKey) {
      if (c.plot) c.plot.destroy();
      const n = aligned.labels.length - aligned.thresholds;
      const series = [{}];
      aligned.labels.forEach((label, i) => {
        const threshold = i >= n;
        series.push({
          label,
          stroke: threshold ? '#d13212' : COLORS[i % COLORS.length],
          width: threshold ? 1.5 : 2,
          dash: threshold ? [6, 4] : undefined,
          spanGaps: false,
          points: { show: true, size: 4 },
        });
      });
      c.plot = new uPlot({ width, height: Math.max(120, c.height), series, axes: [{}, { size: 60, values: (u, vals) => vals.map((v) => (v == null ? '' : +v.toPrecision(3))) }] }, aligned.data, c.box.querySelector('.chart'));
      c.labels = labelKey;
    } else {
      c.plot.setData(aligned.data);
    }
  }

  function render(data) {
    if (!built) build(data);
    const alarms = new Map(data.alarms.map((a) => [a.id, a]));
    document.getElementById('period').textContent =
      `Period ${fmtDuration(data.periodSeconds)}` +
      (data.periodSeconds !== data.definedPeriodSeconds ? ` (the deployed stack's: ${fmtDuration(data.definedPeriodSeconds)}; thresholds as defined)` : '') +
      `, last ${36} periods; updated ${new Date(data.now).toLocaleTimeString()}.`;
    const tbody = document.getElementById('alarm-rows');
    tbody.replaceChildren(
      ...data.alarms.map((a) =>
        el(
          'tr',
          { 'data-alarm': a.id, 'data-state': a.state },
          el('th', { scope: 'row' }, a.id),
          el('td', {}, el('span', { class: `state state-${a.state}` }, a.state)),
          el('td', {}, `${a.stat} ${ops[a.comparison] ?? a.comparison} ${a.threshold} in ${a.datapointsToAlarm} of ${a.evaluationPeriods} period(s); missing data: ${a.treatMissingData} — ${a.description}`),
          el('td', {}, a.reason),
        ),
      ),
    );
    data.rows.forEach((row, r) =>
      row.forEach((w, i) => {
        const c = charts.get(`${r}.${i}`);
        if (!c) return;
        c.box.querySelector('.badges').replaceChildren(
          ...(w.alarms ?? []).map((id) => el('span', { class: `state state-${alarms.get(id).state}`, 'data-alarm': id }, `${id}: ${alarms.get(id).state}`)),
        );
        const aligned = align(w, alarms, data.now / 1000, data.periodSeconds);
        const total = (w.lines ?? []).reduce((n, l) => n + l.points.reduce((s, [, v]) => s + Math.abs(v), 0), 0);
        c.box.dataset.points = String((w.lines ?? []).reduce((n, l) => n + l.points.length, 0));
        c.box.dataset.total = String(total);
        c.box.querySelector('.empty').hidden = aligned !== null;
        if (aligned) draw(c, aligned);
      }),
    );
  }

  async function tick() {
    let delay = 2000;
    try {
      const res = await fetch('data', { cache: 'no-store' });
      const data = await res.json();
      render(data);
      delay = Math.min(5000, Math.max(1000, (data.periodSeconds * 1000) / 2));
    } catch (e) {
      document.getElementById('period').textContent = `The local stack does not answer (${e}); retrying.`;
    }
    setTimeout(tick, delay);
  }
  tick();
})();
