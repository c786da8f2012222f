// Dashboards of the results, in the spirit of the Streamlit apps the seeds' teams run: one per shipped
// job, and for any other job a time chart of the aggregate the person picks. Charts are uPlot (served
// from node_modules); distributions are bars.
import { bars, fmt, h } from './app.js';

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

/** A line chart of `series` over epoch seconds `t` in `el` (replacing what it held). */
export function timeChart(el, title, t, series) {
  if (!el) return;
  el.replaceChildren();
  if (t.length === 0) return void el.append(h('div', { class: 'empty' }, `${title}: no data yet`));
  const width = Math.max(320, el.clientWidth - 16 || 560);
  // eslint-disable-next-line no-undef
  new uPlot(
    {
      title,
      width,
      height: 220,
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true }))],
      axes: [{}, { size: 70 }],
    },
    [t, ...series.map((s) => s.values)],
    el,
  );
}

/** Rows grouped by window start (ascending), and the distinct keys. */
function byWindow(rows) {
  const windows = new Map();
  for (const r of rows) {
    if (!windows.has(r.window_start)) windows.set(r.window_start, []);
    windows.get(r.window_start).push(r);
  }
  const starts = [...windows.keys()].sort((a, b) => a - b);
  return { starts, windows, keys: [...new Set(rows.map((r) => r.key))].sort() };
}

/** One series per key (the `top` keys by total of `value`), over the windows. */
function perKeySeries(rows, value, top = 6) {
  const { starts, windows } = byWindow(rows);
  const totals = new Map();
  for (const r of rows) totals.set(r.key, (totals.get(r.key) ?? 0) + Math.abs(value(r) ?? 0));
  const keys = [...totals].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k]) => k);
  return {
    t: starts.map((s) => s / 1000),
    series: keys.map((k) => ({ label: k, values: starts.map((s) => value(windows.get(s).find((r) => r.key === k) ?? {}) ?? null) })),
  };
}

function latest(rows) {
  const { starts, windows } = byWindow(rows);
  return starts.length ? { start: starts.at(-1), rows: windows.get(starts.at(-1)) } : { start: null, rows: [] };
}

function chartBox(id) {
  return h('div', { class: 'chart', id });
}

function later(fn) {
  // After the page is in the document, so charts know their width.
  setTimeout(fn, 0);
}

function kpis(items) {
  return h('div', { class: 'cards' }, items.map(([label, value]) => h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value))));
}

const windowLabel = (start) => (start === null ? 'no window yet' : `window ${new Date(start).toISOString().replace('T', ' ').slice(0, 19)} UTC`);

const dashboards = {
  'station-sentiment'(rows) {
    const last = latest(rows);
    const perService = {};
    for (const r of last.rows) {
      const service = r.key.split('|')[1] ?? r.key;
      perService[service] ??= { n: 0, s: 0 };
      perService[service].n += r.feedback;
      perService[service].s += r.avg_sentiment * r.feedback;
    }
    const stations = Object.fromEntries(last.rows.map((r) => [r.key.replace('|', ' · '), r.avg_sentiment]));
    const { t, series } = perKeySeries(rows, (r) => r.avg_rating, 5);
    later(() => timeChart(document.getElementById('dash-1'), 'mean rating per station and service (top 5 by volume)', t, series));
    return [
      h('h2', {}, `Sentiment per service — ${windowLabel(last.start)}`),
      h('div', { class: 'row' }, bars(Object.fromEntries(Object.entries(perService).map(([k, v]) => [k, v.n ? v.s / v.n : 0])), (v) => fmt.n(v, 2)), bars(Object.fromEntries(Object.entries(perService).map(([k, v]) => [`${k} feedback`, v.n])))),
      h('h2', {}, 'Sentiment per station and service'),
      bars(stations, (v) => fmt.n(v, 2)),
      chartBox('dash-1'),
    ];
  },
  'openfood-nutriscore'(rows) {
    const last = latest(rows);
    const { t, series } = perKeySeries(rows, (r) => r.products, 8);
    later(() => timeChart(document.getElementById('dash-1'), 'products per Nutri-Score grade', t, series));
    return [h('h2', {}, `Nutri-Score distribution — ${windowLabel(last.start)}`), bars(Object.fromEntries(last.rows.map((r) => [r.key, r.products]).sort())), chartBox('dash-1')];
  },
  'openfood-brands'(rows) {
    const last = latest(rows);
    const top = last.rows.sort((a, b) => b.products - a.products).slice(0, 15);
    return [h('h2', {}, `Top brands — ${windowLabel(last.start)}`), bars(Object.fromEntries(top.map((r) => [r.key, r.products]))), h('h2', {}, 'Mean energy (kJ/100 g)'), bars(Object.fromEntries(top.map((r) => [r.key, r.avg_energy_100g ?? 0])), (v) => fmt.n(v, 0))];
  },
  'user-activity'(rows) {
    const last = latest(rows);
    const total = last.rows.reduce((n, r) => n + r.event_count, 0);
    const { t, series } = perKeySeries(rows, (r) => r.event_count);
    later(() => timeChart(document.getElementById('dash-1'), 'events per day and type', t, series));
    return [
      h('h2', {}, `KPIs — ${windowLabel(last.start)}`),
      kpis([['events', fmt.n(total)], ['event types', last.rows.length], ['most active type', last.rows.sort((a, b) => b.event_count - a.event_count)[0]?.key ?? '–']]),
      h('div', { class: 'row' }, h('div', {}, h('h2', {}, 'event_count'), bars(Object.fromEntries(last.rows.map((r) => [r.key, r.event_count])))), h('div', {}, h('h2', {}, 'unique_users'), bars(Object.fromEntries(last.rows.map((r) => [r.key, r.unique_users]))))),
      chartBox('dash-1'),
    ];
  },
  'crypto-prices'(rows) {
    const last = latest(rows);
    const volatility = Object.fromEntries(last.rows.map((r) => [r.key, r.open ? (100 * (r.high - r.low)) / r.open : 0]));
    // Prices of different assets differ by orders of magnitude: chart the change since the first window.
    const first = new Map();
    const { t, series } = perKeySeries(rows, (r) => {
      if (r.close === undefined) return null;
      if (!first.has(r.key)) first.set(r.key, r.close);
      return (100 * (r.close - first.get(r.key))) / first.get(r.key);
    });
    later(() => timeChart(document.getElementById('dash-1'), 'close, % change since the first window', t, series));
    return [
      h('h2', {}, `Prices — ${windowLabel(last.start)}`),
      kpis(last.rows.slice(0, 8).map((r) => [r.key, `$${fmt.n(r.close, r.close < 10 ? 4 : 2)}`])),
      h('h2', {}, 'Volatility in the window ((high − low) / open, %)'),
      bars(volatility, (v) => `${fmt.n(v, 2)} %`),
      chartBox('dash-1'),
    ];
  },
  'support-tickets'(rows) {
    const last = latest(rows);
    const r = last.rows[0] ?? {};
    const ordered = [...rows].sort((a, b) => a.window_start - b.window_start);
    later(() => {
      const t = ordered.map((x) => x.window_start / 1000);
      timeChart(document.getElementById('dash-1'), 'tickets per 30 s', t, [{ label: 'tickets', values: ordered.map((x) => x.total_tickets) }]);
      timeChart(document.getElementById('dash-2'), 'SLA hours', t, [{ label: 'mean', values: ordered.map((x) => x.sla_mean) }, { label: 'median', values: ordered.map((x) => x.sla_median) }]);
    });
    return [
      h('h2', {}, `Support metrics — ${windowLabel(last.start)}`),
      kpis([['tickets', fmt.n(r.total_tickets)], ['SLA mean (h)', fmt.n(r.sla_mean, 1)], ['SLA median (h)', fmt.n(r.sla_median, 1)], ['priority score', fmt.n(r.priority_score_mean, 2)]]),
      h('div', { class: 'row' }, h('div', {}, h('h2', {}, 'per team'), bars(r.tickets_per_team)), h('div', {}, h('h2', {}, 'per type'), bars(r.tickets_per_type))),
      h('div', { class: 'row' }, chartBox('dash-1'), chartBox('dash-2')),
    ];
  },
};

/** The job's own dashboard, or a time chart of a chosen numeric aggregate per key. */
export function dashboardFor(job, rows, aggregates) {
  if (dashboards[job]) return h('section', { id: 'dashboard' }, dashboards[job](rows));
  const numeric = aggregates.filter((a) => rows.some((r) => typeof r[a] === 'number'));
  if (numeric.length === 0) return h('section', { id: 'dashboard' });
  const choice = sessionStorage.getItem(`shardflow-chart-${job}`) ?? numeric[0];
  const aggregate = numeric.includes(choice) ? choice : numeric[0];
  const { t, series } = perKeySeries(rows, (r) => r[aggregate]);
  later(() => timeChart(document.getElementById('dash-1'), `${aggregate} per key (top 6)`, t, series));
  return h('section', { id: 'dashboard' },
    h('div', { class: 'controls' }, 'Chart:', h('select', { 'aria-label': 'aggregate', onchange: (e) => { sessionStorage.setItem(`shardflow-chart-${job}`, e.target.value); window.dispatchEvent(new HashChangeEvent('hashchange')); } }, numeric.map((a) => h('option', { value: a, selected: a === aggregate }, a)))),
    chartBox('dash-1'));
}
