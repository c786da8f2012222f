// The console's pages: one module, no build step. Every value from the cluster is put in the page as
// text (textContent), never as HTML. Pages re-read their JSON from /api when the server says
// something changed (server-sent events on /api/events); nothing reloads the page.
import { dashboardFor, timeChart } from './dashboards.js';

const page = document.getElementById('page');
/** Dead letters ticked for replay: while there are some, the page does not refresh under the person. */
const deadSelection = new Set();
const auth = { token: sessionStorage.getItem('shardflow-token') ?? '', user: sessionStorage.getItem('shardflow-user') ?? '', admin: false };

/** h('td', { class: 'num' }, 'text', child): an element with attributes and text or element children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'style') el.style.cssText = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

async function api(path, options = {}) {
  const headers = { ...(options.body ? { 'content-type': 'application/json' } : {}), ...(auth.token ? { authorization: `Bearer ${auth.token}` } : {}), ...(auth.user ? { 'x-shardflow-user': auth.user } : {}) };
  const res = await fetch(`/api${path}`, { ...options, headers });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  return body;
}

function toast(text, error = false) {
  const el = h('div', { class: error ? 'error' : '' }, text);
  document.getElementById('toast').append(el);
  setTimeout(() => el.remove(), error ? 8000 : 4000);
}

async function act(path, body, done) {
  try {
    const r = await api(path, { method: 'POST', body: JSON.stringify(body ?? {}) });
    toast(done ?? 'done');
    return r;
  } catch (err) {
    toast(err.message, true);
    return undefined;
  }
}

export const fmt = {
  n: (v, digits = 0) => (v === null || v === undefined ? '–' : Number(v).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })),
  bytes: (b) => {
    if (b === null || b === undefined || b < 0) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (b >= 1024 && i < u.length - 1) (b /= 1024), i++;
    return `${i === 0 ? b : b.toFixed(1)} ${u[i]}`;
  },
  ms: (ms) => {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
    if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
    return `${(ms / 3_600_000).toFixed(1)} h`;
  },
  time: (t) => new Date(t).toISOString().slice(11, 19),
  limit: (v, f) => (v === undefined || v < 0 || v === 0 ? 'none' : f(v)),
};

function table(columns, rows, options = {}) {
  const head = h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : '' }, c.label)));
  const body = rows.map((r) =>
    h('tr', { class: options.onclick ? 'clickable' : '', onclick: options.onclick ? () => options.onclick(r) : undefined, 'data-key': options.key?.(r) }, columns.map((c) => {
      const v = c.value(r);
      return h('td', { class: [c.num ? 'num' : '', c.cls?.(r) ?? ''].join(' ').trim() }, v instanceof Node ? v : String(v ?? '–'));
    })),
  );
  if (rows.length === 0) return h('div', { class: 'empty' }, options.empty ?? 'nothing yet');
  return h('table', {}, h('thead', {}, head), h('tbody', {}, body));
}

const card = (label, value, cls = '') => h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: `value ${cls}` }, value));
const link = (href, text) => h('a', { href }, text);
const adminOnly = (el) => (auth.admin ? el : null);

// ---------------------------------------------------------------- pages

const pages = {
  async cluster() {
    const c = await api('/cluster');
    const alive = c.workers.filter((w) => w.alive).length;
    const scale = h('input', { type: 'number', min: 1, max: 64, value: alive || 1, style: 'width:4rem', 'aria-label': 'workers' });
    return [
      h('h1', {}, 'Cluster'),
      h('div', { class: 'cards' },
        card('leader', c.leader ? `${c.leader.id}` : 'none', c.leader ? 'ok' : 'bad'),
        card('term', c.leader ? c.leader.term : '–'),
        card('lease age', c.leader ? fmt.ms(c.leader.lease_age_ms) : '–'),
        card('workers alive', `${alive} / ${c.workers.length}`, alive === c.workers.length ? 'ok' : 'warn'),
        card('assignment', c.assignment ? `v${c.assignment.version}` : '–'),
        card('events/s', fmt.n(c.workers.reduce((n, w) => n + (w.alive ? w.events_per_sec : 0), 0))),
      ),
      adminOnly(h('div', { class: 'controls' },
        'Workers:', scale, h('button', { onclick: () => act('/actions/scale', { workers: Number(scale.value) }, `scaling to ${scale.value} workers`) }, 'Scale'),
        h('button', { class: 'danger', onclick: () => act('/actions/kill', { target: 'leader' }, 'leader killed (kill -9)') }, 'Kill leader'),
      )),
      h('h2', {}, 'Coordinators'),
      table([
        { label: 'id', value: (r) => r.id },
        { label: 'role', value: (r) => (!r.alive ? 'dead' : r.role === 'follower' ? 'standby' : r.role), cls: (r) => (!r.alive ? 'bad' : r.role === 'leader' ? 'ok' : '') },
        { label: 'term', value: (r) => r.term, num: true },
        { label: 'heartbeat age', value: (r) => fmt.ms(r.last_heartbeat_ms), num: true },
        { label: '', value: (r) => adminOnly(h('button', { class: 'danger', onclick: () => act('/actions/kill', { target: 'coordinator', id: r.id }, `${r.id} killed`) }, 'kill')) ?? '' },
      ], c.coordinators, { key: (r) => r.id }),
      h('h2', {}, 'Workers'),
      table([
        { label: 'id', value: (r) => r.id },
        { label: 'state', value: (r) => (!r.alive ? 'dead' : r.full ? 'full' : 'alive'), cls: (r) => (!r.alive ? 'bad' : r.full ? 'warn' : 'ok') },
        { label: 'host', value: (r) => r.host },
        { label: 'pid', value: (r) => r.pid, num: true },
        { label: 'partitions', value: (r) => r.partitions, num: true },
        { label: 'events/s', value: (r) => fmt.n(r.events_per_sec), num: true },
        { label: 'RSS', value: (r) => fmt.bytes(r.rss_bytes), num: true },
        { label: 'heartbeat age', value: (r) => fmt.ms(r.last_heartbeat_ms), num: true },
        { label: '', value: (r) => adminOnly(h('span', {},
          h('button', { onclick: () => act('/actions/drain', { worker: r.id }, `${r.id} draining`) }, 'drain'), ' ',
          h('button', { class: 'danger', onclick: () => act('/actions/kill', { target: 'worker', id: r.id }, `${r.id} killed`) }, 'kill'))) ?? '' },
      ], c.workers, { key: (r) => r.id }),
      h('h2', {}, 'Timeline'),
      c.timeline.length ? h('ul', { class: 'timeline', id: 'timeline' }, [...c.timeline].reverse().map((e) => h('li', { class: e.kind }, h('time', {}, fmt.time(e.at)), e.text))) : h('div', { class: 'empty' }, 'nothing has happened since the console started'),
    ];
  },

  async jobs() {
    const jobs = await api('/jobs');
    return [
      h('h1', {}, 'Jobs'),
      table([
        { label: 'job', value: (r) => link(`#/job/${r.name}`, r.name) },
        { label: 'state', value: (r) => (r.paused ? `paused by ${r.paused_by}` : 'running'), cls: (r) => (r.paused ? 'warn' : 'ok') },
        { label: 'window', value: (r) => r.window },
        { label: 'partitions', value: (r) => `${r.owned}/${r.partitions}`, num: true },
        { label: 'events/s', value: (r) => fmt.n(r.events_per_sec), num: true },
        { label: 'lag', value: (r) => fmt.n(r.lag), num: true },
        { label: 'dead letters', value: (r) => fmt.n(sum(r.dead_letters)), num: true },
        { label: 'late', value: (r) => fmt.n(sum(r.late)), num: true },
        { label: 'sink', value: (r) => r.sink.type },
        { label: '', value: (r) => link(`#/results/${r.name}`, 'results') },
      ], jobs, { empty: 'no job registered yet: start workers (npm start)' }),
    ];
  },

  async job(name) {
    const j = await api(`/jobs/${encodeURIComponent(name)}`);
    const series = j.series;
    const charts = h('div', { class: 'row' }, h('div', { class: 'chart', id: 'chart-rate' }), h('div', { class: 'chart', id: 'chart-lag' }));
    setTimeout(() => {
      const t = series.map((s) => s.at / 1000);
      timeChart(document.getElementById('chart-rate'), 'events/s', t, [{ label: 'events/s', values: series.map((s) => s.eventsPerSec) }]);
      timeChart(document.getElementById('chart-lag'), 'lag (messages)', t, [{ label: 'lag', values: series.map((s) => s.lag) }]);
    }, 0);
    return [
      h('h1', {}, `Job ${j.job.name}`),
      h('p', { class: 'muted' }, j.job.description || '', j.job.module ? ` — module ${j.job.module}` : ''),
      h('div', { class: 'cards' },
        card('state', j.job.paused ? 'paused' : 'running', j.job.paused ? 'warn' : 'ok'),
        card('window', j.job.window, 'small'),
        card('aggregates', j.job.aggregates.join(', '), 'small'),
        card('sink', j.job.sink.type + (j.job.sink.table ? ` ${j.job.sink.table}` : '')),
      ),
      adminOnly(h('div', { class: 'controls' }, j.job.paused
        ? h('button', { onclick: () => act(`/jobs/${name}/resume`, {}, `${name} resumed`) }, 'Resume job')
        : h('button', { onclick: () => act(`/jobs/${name}/pause`, {}, `${name} paused`) }, 'Pause job'))),
      h('p', {}, link(`#/results/${name}`, 'results →'), ' ', link(`#/dead-letters?job=${name}`, 'dead letters →')),
      charts,
      h('div', { class: 'row' },
        h('div', {}, h('h2', {}, 'Dead letters by reason'), bars(j.dead_letters)),
        h('div', {}, h('h2', {}, 'Late events by reason'), bars(j.late))),
      j.sources.length ? h('h2', {}, 'Live sources') : null,
      j.sources.length ? table([
        { label: 'source', value: (r) => r.source },
        { label: 'owner', value: (r) => r.owner ?? 'none', cls: (r) => (r.owner ? '' : 'bad') },
        { label: 'records', value: (r) => fmt.n(r.records), num: true },
        { label: 'position', value: (r) => r.position ?? '–' },
        { label: 'last error', value: (r) => r.last_error ?? '', cls: (r) => (r.last_error ? 'bad' : '') },
      ], j.sources) : null,
      h('h2', {}, 'Partitions'),
      table([
        { label: '#', value: (r) => r.partition, num: true },
        { label: 'owner', value: (r) => r.owner ?? 'none', cls: (r) => (r.owner ? '' : 'bad') },
        { label: 'events/s', value: (r) => fmt.n(r.events_per_sec), num: true },
        { label: 'lag', value: (r) => fmt.n(r.lag), num: true },
        { label: 'watermark', value: (r) => (r.watermark ? new Date(r.watermark).toISOString().replace('T', ' ').slice(0, 19) : '–') },
        { label: 'trails wall time', value: (r) => fmt.ms(r.watermark_delay_ms), num: true },
        { label: 'checkpoint age', value: (r) => fmt.ms(r.checkpoint_age_ms), num: true },
        { label: 'checkpoint size', value: (r) => fmt.bytes(r.checkpoint_bytes), num: true },
        { label: 'restarts', value: (r) => r.restarts, num: true },
        { label: 'keys', value: (r) => fmt.n(r.keys), num: true },
        { label: 'open windows', value: (r) => fmt.n(r.windows), num: true },
      ], j.partitions),
    ];
  },

  async streams() {
    const streams = await api('/streams');
    const cols = [
      { label: 'name', value: (r) => r.name },
      { label: 'subjects', value: (r) => r.subjects.join(' ') },
      { label: 'messages', value: (r) => fmt.n(r.messages), num: true },
      { label: 'bytes', value: (r) => fmt.bytes(r.bytes), num: true },
      { label: 'max bytes', value: (r) => fmt.limit(r.max_bytes, fmt.bytes), num: true },
      { label: 'max msgs', value: (r) => fmt.limit(r.max_msgs, fmt.n), num: true },
      { label: 'max age', value: (r) => fmt.limit(r.max_age_ms, fmt.ms), num: true },
      { label: 'first..last seq', value: (r) => `${r.first_seq}..${r.last_seq}`, num: true },
      { label: 'consumers', value: (r) => r.consumers, num: true },
      { label: 'replicas', value: (r) => r.replicas, num: true },
    ];
    return [
      h('h1', {}, 'Streams and buckets'),
      h('h2', {}, 'Streams'), table(cols, streams.filter((s) => s.kind === 'stream')),
      h('h2', {}, 'KV buckets'), table(cols.filter((c) => c.label !== 'subjects'), streams.filter((s) => s.kind === 'kv')),
    ];
  },

  async ['dead-letters'](_, query) {
    const jobs = await api('/jobs');
    const job = query.get('job') ?? jobs[0]?.name;
    if (!job) return [h('h1', {}, 'Dead letters'), h('div', { class: 'empty' }, 'no job registered yet')];
    const kind = query.get('kind') ?? 'dead-letters';
    const reason = query.get('reason') ?? '';
    const d = await api(`/jobs/${encodeURIComponent(job)}/dead-letters?kind=${kind}&limit=500${reason ? `&reason=${encodeURIComponent(reason)}` : ''}`);
    const go = (changes) => {
      const q = new URLSearchParams({ job, kind, ...(reason ? { reason } : {}), ...changes });
      for (const [k, v] of [...q]) if (!v) q.delete(k);
      location.hash = `#/dead-letters?${q}`;
    };
    const selected = deadSelection;
    selected.clear();
    const payload = h('pre', { class: 'payload', id: 'payload' }, 'select an entry to see its payload');
    const show = async (r) => {
      const m = await api(`/jobs/${encodeURIComponent(job)}/dead-letters/${r.seq}?kind=${kind}`).catch((e) => ({ text: e.message, headers: {} }));
      payload.textContent = `${m.subject ?? ''}\n${Object.entries(m.headers).map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${m.text}${m.base64 ? `\n\nbase64: ${m.base64}` : ''}`;
    };
    return [
      h('h1', {}, kind === 'late' ? 'Late events' : 'Dead letters'),
      h('div', { class: 'controls' },
        h('select', { 'aria-label': 'job', onchange: (e) => go({ job: e.target.value, reason: '' }) }, jobs.map((j) => h('option', { value: j.name, selected: j.name === job }, j.name))),
        h('select', { 'aria-label': 'kind', onchange: (e) => go({ kind: e.target.value, reason: '' }) }, h('option', { value: 'dead-letters', selected: kind !== 'late' }, 'dead letters'), h('option', { value: 'late', selected: kind === 'late' }, 'late events')),
        h('select', { 'aria-label': 'reason', id: 'reason', onchange: (e) => go({ reason: e.target.value }) }, h('option', { value: '' }, `all reasons (${fmt.n(sum(d.counts))})`), Object.entries(d.counts).map(([r, n]) => h('option', { value: r, selected: r === reason }, `${r} (${fmt.n(n)})`))),
        adminOnly(kind === 'dead-letters' ? h('button', { id: 'replay', onclick: () => selected.size ? act(`/jobs/${job}/dead-letters/replay`, { seqs: [...selected] }, `replaying ${selected.size} into ingest`) : toast('select entries first', true) }, 'Replay selected into ingest') : null),
      ),
      h('div', { class: 'row' },
        table([
          { label: '', value: (r) => (auth.admin && kind === 'dead-letters' ? h('input', { type: 'checkbox', onclick: (e) => { e.stopPropagation(); e.target.checked ? selected.add(r.seq) : selected.delete(r.seq); } }) : '') },
          { label: 'seq', value: (r) => r.seq, num: true },
          { label: 'stored', value: (r) => fmt.time(r.at) },
          { label: 'partition', value: (r) => r.partition },
          { label: 'reason', value: (r) => r.reason, cls: () => 'bad' },
          { label: 'message', value: (r) => (r.message.length > 90 ? `${r.message.slice(0, 90)}…` : r.message) },
          { label: 'bytes', value: (r) => r.bytes, num: true },
        ], d.entries, { onclick: show, key: (r) => r.seq, empty: 'none: every event so far was good' }),
        payload),
    ];
  },

  async results(name) {
    const jobs = await api('/jobs');
    const job = name ?? jobs[0]?.name;
    if (!job) return [h('h1', {}, 'Results'), h('div', { class: 'empty' }, 'no job registered yet')];
    const r = await api(`/jobs/${encodeURIComponent(job)}/results?limit=2000`);
    const record = jobs.find((j) => j.name === job);
    return [
      h('h1', {}, `Results of ${job}`),
      h('div', { class: 'controls' }, h('select', { 'aria-label': 'job', onchange: (e) => (location.hash = `#/results/${e.target.value}`) }, jobs.map((j) => h('option', { value: j.name, selected: j.name === job }, j.name)))),
      r.problem ? h('div', { class: 'empty' }, r.problem) : null,
      dashboardFor(job, r.rows, record?.aggregates ?? []),
      h('h2', {}, 'Latest windows'),
      table([
        { label: 'window', value: (x) => `${new Date(x.window_start).toISOString().replace('T', ' ').slice(0, 19)} → ${new Date(x.window_end).toISOString().slice(11, 19)}` },
        { label: 'key', value: (x) => x.key },
        ...(record?.aggregates ?? []).map((a) => ({ label: a, value: (x) => show(x[a]), num: typeof r.rows[0]?.[a] === 'number' })),
        { label: 'rev', value: (x) => x.revision, num: true },
      ], r.rows.slice(0, 300), { key: (x) => `${x.key}|${x.window_start}`, empty: 'no window has closed yet' }),
    ];
  },

  async chaos() {
    const runs = await api('/chaos');
    return [
      h('h1', {}, 'Chaos runs'),
      h('p', { class: 'muted' }, 'Runs of `npx shardflow chaos --scenario NAME` from this data folder, newest first.'),
      table([
        { label: 'started', value: (r) => r.startedAt.replace('T', ' ').slice(0, 19) },
        { label: 'scenario', value: (r) => r.scenario },
        { label: 'verdict', value: (r) => (r.exact ? 'exact' : 'NOT exact'), cls: (r) => (r.exact ? 'ok' : 'bad') },
        { label: 'duration', value: (r) => `${r.durationS} s`, num: true },
        { label: 'faults', value: (r) => r.faults, num: true },
        { label: 'median recovery', value: (r) => fmt.ms(r.medianRecoveryMs), num: true },
        { label: 'max recovery', value: (r) => fmt.ms(r.maxRecoveryMs), num: true },
        { label: 'report', value: (r) => (r.html ? h('a', { href: `/api/chaos/${r.id}/report.html`, target: '_blank', rel: 'noopener' }, 'open') : '–') },
      ], runs, { empty: 'no chaos run yet: npx shardflow chaos --scenario kill-workers' }),
    ];
  },
};

function show(v) {
  if (typeof v === 'number') return fmt.n(v, 3);
  if (v && typeof v === 'object') return JSON.stringify(v).slice(0, 120);
  return v;
}

function sum(counts) {
  return Object.values(counts ?? {}).reduce((a, b) => a + b, 0);
}

export function bars(counts, format = fmt.n) {
  const entries = Object.entries(counts ?? {});
  if (entries.length === 0) return h('div', { class: 'empty' }, 'none');
  const max = Math.max(...entries.map(([, v]) => Math.abs(v)), 1e-9);
  return h('div', { class: 'bars' }, entries.map(([k, v]) => h('div', { class: 'bar' }, h('span', { class: 'name', title: k }, k), h('span', {}, h('div', { class: `fill ${v < 0 ? 'neg' : ''}`, style: `width:${(100 * Math.abs(v)) / max}%` })), h('span', { class: 'v' }, format(v)))));
}

// ---------------------------------------------------------------- routing and live updates

let rendering = false;
let again = false;

function route() {
  const [path, q] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, arg] = (path || 'cluster').split('/');
  return { name, arg: arg ? decodeURIComponent(arg) : undefined, query: new URLSearchParams(q ?? '') };
}

async function render() {
  if (rendering) return void (again = true);
  rendering = true;
  try {
    const { name, arg, query } = route();
    const fn = pages[name] ?? pages.cluster;
    for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.dataset.page === name || (name === 'job' && a.dataset.page === 'jobs'));
    const content = await fn(arg, query);
    // Keep what the person is doing: an open payload, a scroll position, focus in a field.
    if (page.contains(document.activeElement) && ['INPUT', 'SELECT'].includes(document.activeElement.tagName)) return;
    const keep = document.getElementById('payload')?.textContent;
    page.replaceChildren(...content.flat().filter(Boolean));
    const payload = document.getElementById('payload');
    if (payload && keep && !keep.startsWith('select an entry')) payload.textContent = keep;
  } catch (err) {
    page.replaceChildren(h('h1', {}, 'Not available'), h('div', { class: 'empty' }, err.message));
  } finally {
    rendering = false;
    if (again) {
      again = false;
      void render();
    }
  }
}

function live() {
  const dot = document.getElementById('live');
  const source = new EventSource('/api/events');
  source.onopen = () => dot.classList.add('on');
  source.onerror = () => dot.classList.remove('on');
  const { name } = route();
  source.addEventListener('status', () => {
    const r = route().name;
    // Results and dead letters follow their own notices; the rest is the status.
    if (r === 'cluster' || r === 'jobs' || r === 'job' || r === 'streams') void render();
  });
  source.addEventListener('timeline', () => route().name === 'cluster' && void render());
  source.addEventListener('results', (e) => {
    const { job } = JSON.parse(e.data);
    const r = route();
    if (r.name === 'results' && (r.arg === job || r.arg === undefined)) void render();
  });
  let lastSide = 0;
  source.addEventListener('status', () => {
    if (route().name === 'dead-letters' && deadSelection.size === 0 && Date.now() - lastSide > 3000) {
      lastSide = Date.now();
      void render();
    }
  });
  return name;
}

async function signIn() {
  const who = await fetch('/api/whoami', { headers: auth.token ? { authorization: `Bearer ${auth.token}` } : {} }).then((r) => r.json());
  auth.admin = who.admin;
  const mode = document.getElementById('mode');
  mode.textContent = who.admin ? 'admin' : who.actions ? 'read-only' : 'read-only console';
  mode.classList.toggle('admin', who.admin);
}

document.getElementById('token').value = auth.token;
document.getElementById('user').value = auth.user;
document.getElementById('auth').addEventListener('submit', async (e) => {
  e.preventDefault();
  auth.token = document.getElementById('token').value.trim();
  auth.user = document.getElementById('user').value.trim();
  sessionStorage.setItem('shardflow-token', auth.token);
  sessionStorage.setItem('shardflow-user', auth.user);
  await signIn();
  toast(auth.admin ? 'signed in: actions allowed' : 'that token is not the admin token: read-only', !auth.admin);
  void render();
});
window.addEventListener('hashchange', () => void render());
await signIn();
live();
void render();
