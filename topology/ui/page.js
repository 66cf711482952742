// The live page: one EventSource on /events, each message the whole state ({ topology, traffic,
// kafka }) as runtime/topology-status.ts, topology/traffic-view.ts and topology/kafka-lag.ts
// describe it. Plain DOM and SVG, no
// library and no build step; every text from the data goes in through textContent.

const SVG = 'http://www.w3.org/2000/svg';
const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const e = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

const fmtInt = (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
const fmtRate = (n) => (n === null || n === undefined ? '–' : n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));
const fmtMs = (n) => (n === null || n === undefined ? '–' : n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toFixed(3));
const fmtRatio = (n) => (n === null || n === undefined ? '–' : n.toFixed(3));
const fmtMb = (b) => `${(b / 1048576).toFixed(0)} MB`;
const utc = (secs) => new Date(secs * 1000).toISOString().slice(0, 19).replace('T', ' ');
const heat = (capacity) => (capacity === null ? '' : capacity > 0.8 ? 'hot' : capacity > 0.5 ? 'warm' : '');

// ---- topology graph: layered left to right by longest path from the spouts ----

const NODE_W = 150;
const NODE_H = 38;
const LAYER_GAP = 26;
const ROW_GAP = 10;
let graphKey = '';
const nodeEls = new Map();

function layers(components) {
  const byId = new Map(components.map((c) => [c.id, c]));
  const depth = new Map();
  // Longest path, relaxed at most |V| times: a cycle cannot loop for ever.
  for (const c of components) depth.set(c.id, 0);
  for (let round = 0; round < components.length; round++) {
    let changed = false;
    for (const c of components) {
      for (const i of c.inputs) {
        if (!byId.has(i.source)) continue;
        const d = depth.get(i.source) + 1;
        if (d > depth.get(c.id)) {
          depth.set(c.id, d);
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  const out = [];
  for (const c of components) (out[depth.get(c.id)] ??= []).push(c);
  return out.filter(Boolean);
}

function drawGraph(components) {
  const key = components.map((c) => `${c.id}<${c.inputs.map((i) => i.source).join(',')}`).join(';');
  if (key === graphKey) return;
  graphKey = key;
  nodeEls.clear();
  // Top to bottom: one row per layer, the layer's components side by side.
  const rows = layers(components);
  const width = Math.max(...rows.map((r) => r.length)) * (NODE_W + ROW_GAP) + ROW_GAP;
  const height = rows.length * (NODE_H + LAYER_GAP) + LAYER_GAP;
  const pos = new Map();
  rows.forEach((row, y) => {
    const offset = (width - row.length * (NODE_W + ROW_GAP) + ROW_GAP) / 2;
    row.forEach((c, x) => pos.set(c.id, { x: offset + x * (NODE_W + ROW_GAP), y: LAYER_GAP + y * (NODE_H + LAYER_GAP) }));
  });
  const svg = el('svg:svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'topology graph' });
  const defs = el('svg:defs');
  defs.append(el('svg:marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' }, el('svg:path', { d: 'M0,0 L10,5 L0,10 z', fill: '#9aa4b5' })));
  svg.append(defs);
  for (const c of components) {
    for (const i of c.inputs) {
      const a = pos.get(i.source);
      const b = pos.get(c.id);
      if (!a || !b) continue;
      const x1 = a.x + NODE_W / 2;
      const y1 = a.y + NODE_H;
      const x2 = b.x + NODE_W / 2;
      const y2 = b.y;
      const mid = (y1 + y2) / 2;
      const grouping = i.grouping + (i.fields ? `(${i.fields.join(', ')})` : '');
      const path = el('svg:path', { class: 'edge', d: `M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2}`, 'marker-end': 'url(#arrow)', 'data-edge': `${i.source}->${c.id}` });
      path.append(el('svg:title', {}, `${i.source} → ${c.id}\nstream ${i.stream}\n${grouping}`));
      svg.append(path);
    }
  }
  for (const c of components) {
    const p = pos.get(c.id);
    const g = el('svg:g', { class: `node ${c.kind}`, transform: `translate(${p.x},${p.y})`, 'data-component': c.id });
    g.append(el('svg:rect', { width: NODE_W, height: NODE_H }));
    g.append(el('svg:text', { x: 6, y: 14 }, c.id));
    const sub = el('svg:text', { x: 6, y: 30, class: 'sub' }, '');
    g.append(sub);
    g.append(el('svg:title', {}, `${c.id} (${c.kind}), ${c.executors} executors, ${c.tasks} tasks`));
    svg.append(g);
    nodeEls.set(c.id, { g, sub });
  }
  $('#graph').replaceChildren(svg);
}

function updateGraph(components) {
  drawGraph(components);
  for (const c of components) {
    const n = nodeEls.get(c.id);
    if (!n) continue;
    n.g.setAttribute('class', `node ${c.kind} ${heat(c.capacity)}`);
    n.sub.textContent =
      c.kind === 'spout'
        ? `${fmtRate(c.emittedPerSec)}/s · pending ${fmtInt(c.pending)}`
        : `${fmtRate(c.executedPerSec)}/s · cap ${fmtRatio(c.capacity)} · q ${fmtInt(c.queueDepth)}`;
  }
}

// ---- component table ----

const COLUMNS = [
  ['executors', fmtInt], ['tasks', fmtInt], ['executedPerSec', fmtRate], ['emittedPerSec', fmtRate],
  ['executeP50Ms', fmtMs], ['executeP99Ms', fmtMs], ['capacity', fmtRatio], ['queueDepth', fmtInt],
  ['executed', fmtInt], ['acked', fmtInt], ['failed', fmtInt], ['timedOut', fmtInt],
  ['pending', fmtInt], ['parked', fmtInt], ['completeP50Ms', fmtMs], ['completeP99Ms', fmtMs],
];

function updateComponents(view) {
  $('#window').textContent = `(rates and latencies over the last ${view.windowSecs} s)`;
  const body = $('#components tbody');
  const rows = new Map([...body.children].map((r) => [r.dataset.component, r]));
  for (const c of view.components) {
    let row = rows.get(c.id);
    if (!row) {
      row = el('tr', { 'data-component': c.id }, el('td', {}, c.id));
      for (const [field] of COLUMNS) row.append(el('td', { class: `num ${field === 'capacity' ? 'capacity' : ''}`, 'data-field': field }));
      body.append(row);
    }
    row.className = `${heat(c.capacity)} ${c.breakerOpen ? 'breaker' : ''}`;
    COLUMNS.forEach(([field, fmt], i) => {
      const td = row.children[i + 1];
      td.textContent = fmt(c[field]);
      td.dataset.value = c[field] === null ? '' : String(c[field]);
    });
  }
}

function updateThreads(threads) {
  $('#threads tbody').replaceChildren(
    ...threads.map((t) =>
      el('tr', { 'data-worker': t.worker }, el('td', {}, t.worker), el('td', { class: 'num' }, `${(t.busyRatio * 100).toFixed(0)} %`), el('td', { class: 'num' }, fmtMb(t.heapUsedBytes)), el('td', { class: 'num' }, fmtMb(t.heapLimitBytes))),
    ),
  );
}

// ---- traffic: rates chart, top sources, conversations ----

const SERIES = [
  ['linesIn', 'in', '#1a73e8'],
  ['scored', 'scored', '#1e8e3e'],
  ['discarded', 'discarded', '#f29900'],
  ['ignored', 'ignored', '#d93025'],
];

function drawRates(points) {
  const W = 560;
  const H = 150;
  const L = 48;
  const B = 18;
  const svg = el('svg:svg', { width: '100%', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'flows per second' });
  const max = Math.max(1, ...points.flatMap((p) => SERIES.map(([k]) => p[k])));
  const t0 = points.length ? points[0].atMs : 0;
  const t1 = points.length ? points[points.length - 1].atMs : 1;
  const x = (t) => L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - 4);
  const y = (v) => H - B - (v / max) * (H - B - 6);
  svg.append(el('svg:line', { class: 'axis', x1: L, y1: H - B, x2: W, y2: H - B }), el('svg:line', { class: 'axis', x1: L, y1: 4, x2: L, y2: H - B }));
  svg.append(el('svg:text', { x: L - 4, y: 12, 'text-anchor': 'end' }, fmtRate(max)), el('svg:text', { x: L - 4, y: H - B, 'text-anchor': 'end' }, '0'));
  svg.append(el('svg:text', { x: L, y: H - 3 }, `${Math.round((t1 - t0) / 1000)} s ago`), el('svg:text', { x: W - 2, y: H - 3, 'text-anchor': 'end' }, 'now'));
  for (const [k, , color] of SERIES) {
    if (points.length < 2) break;
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.atMs).toFixed(1)},${y(p[k]).toFixed(1)}`).join(' ');
    svg.append(el('svg:path', { d, fill: 'none', stroke: color, 'stroke-width': 1.5, 'data-series': k }));
  }
  $('#rates').replaceChildren(svg);
  const last = points[points.length - 1];
  $('#rates-legend').replaceChildren(
    el('span', { class: 'muted' }, 'flows/s: '),
    ...SERIES.map(([k, label, color]) => el('span', { 'data-series': k }, el('i', { style: `background:${color}` }), `${label} ${last ? fmtRate(last[k]) : '–'}`)),
  );
}

let selectedIp = null;
let lastSources = [];

const MAX_TAGS_SHOWN = 5;

function tags(list) {
  const td = el('td', { class: 'tags', title: list.join(', ') });
  for (const t of list.slice(0, MAX_TAGS_SHOWN)) td.append(el('span', { class: 'tag' }, t));
  if (list.length > MAX_TAGS_SHOWN) td.append(el('span', { class: 'muted' }, `+${list.length - MAX_TAGS_SHOWN}`));
  return td;
}

function updateSources(traffic) {
  lastSources = traffic.topSources;
  $('#sources-window').textContent = `(total badness, last ${Math.round(traffic.windowSecs / 60)} minutes${traffic.sourcesLeftOut ? `; ${fmtInt(traffic.sourcesLeftOut)} flows of other sources left out` : ''})`;
  $('#sources-empty').hidden = traffic.topSources.length > 0;
  $('#top-sources tbody').replaceChildren(
    ...traffic.topSources.map((s) => {
      const row = el('tr', { 'data-ip': s.ip, class: s.ip === selectedIp ? 'selected' : '' }, el('td', {}, s.ip), el('td', { class: 'num' }, fmtInt(s.badness)), el('td', { class: 'num' }, fmtInt(s.flows)), tags(s.tags));
      row.addEventListener('click', () => select(s.ip));
      return row;
    }),
  );
  if (selectedIp !== null) showConversations();
}

const PROTO = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6' };
const endpoint = (ip, port) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

function select(ip) {
  selectedIp = ip;
  for (const r of $('#top-sources tbody').children) r.classList.toggle('selected', r.dataset.ip === ip);
  showConversations();
}

function showConversations() {
  const s = lastSources.find((x) => x.ip === selectedIp);
  $('#conversations-of').textContent = selectedIp ?? '—';
  $('#conversations-hint').textContent = s ? `Latest ${s.conversations.length} scored conversations (a matched pair counts once).` : 'This source has left the top list.';
  if (!s) return;
  $('#conversations tbody').replaceChildren(
    ...s.conversations.map((c) =>
      el(
        'tr',
        { 'data-flow': c.id },
        el('td', {}, c.id),
        el('td', {}, utc(c.startSecs)),
        el('td', {}, `${PROTO[c.protocol] ?? c.protocol}${c.matched ? ' ⇄' : ''}`),
        el('td', {}, endpoint(c.src, c.srcPort)),
        el('td', {}, endpoint(c.dst, c.dstPort)),
        el('td', { class: 'num' }, fmtInt(c.badness)),
        tags(c.tags),
      ),
    ),
  );
}

// ---- Kafka lag (Kafka input only) ----

function updateKafkaLag(partitions) {
  $('#kafka-lag-section').hidden = partitions === null;
  if (partitions === null) return;
  $('#kafka-lag tbody').replaceChildren(
    ...partitions.map((p) =>
      el(
        'tr',
        { 'data-partition': p.partition },
        el('td', {}, p.topic),
        el('td', { class: 'num' }, p.partition),
        el('td', { class: 'num' }, p.task),
        el('td', { class: 'num', 'data-field': 'consumerLag', 'data-value': p.consumerLag ?? '' }, fmtInt(p.consumerLag)),
        el('td', { class: 'num', 'data-field': 'committedLag', 'data-value': p.committedLag ?? '' }, fmtInt(p.committedLag)),
      ),
    ),
  );
}

// ---- latest alerts (evidence stage on) ----

// The alert's lists come capped at 5 (bolts/output/alert-tally.ts): a full one may have more.
const listed = (values) => values.join(', ') + (values.length >= 5 ? ' …' : '');

function updateAlerts(state) {
  $('#alerts-section').hidden = state === null;
  if (state === null) return;
  $('#alerts-empty').hidden = state.alerts.length > 0;
  $('#alerts-note').textContent = `(one row per type and source, newest first${state.leftOut ? `; ${fmtInt(state.leftOut)} left out` : ''})`;
  $('#alerts tbody').replaceChildren(
    ...state.alerts.map((a) =>
      el(
        'tr',
        { 'data-alert': `${a.type} ${a.sourceIp}`, 'data-status': a.status, title: a.alertId },
        el('td', {}, el('span', { class: 'tag' }, a.type)),
        el('td', { class: `status ${a.status}` }, a.status),
        el('td', {}, a.sourceIp),
        el('td', {}, utc(a.firstSeenSecs)),
        el('td', {}, utc(a.lastSeenSecs).slice(11)),
        el('td', { class: 'num' }, fmtInt(a.attempts)),
        el('td', { class: 'num' }, fmtInt(a.score)),
        el('td', {}, listed(a.targets)),
        el('td', {}, listed(a.ports)),
      ),
    ),
  );
}

// ---- the stream ----

function render(state) {
  $('#name').textContent = state.topology.name;
  document.title = `Themis ${state.topology.name}`;
  updateGraph(state.topology.components);
  updateComponents(state.topology);
  updateThreads(state.topology.threads);
  drawRates(state.traffic.rates);
  updateSources(state.traffic);
  updateAlerts(state.traffic.alerts);
  updateKafkaLag(state.kafka);
  const status = $('#status');
  status.textContent = `live · updated ${new Date(state.topology.atMs).toLocaleTimeString()}`;
  status.dataset.at = String(state.topology.atMs);
  status.dataset.updates = String(Number(status.dataset.updates ?? '0') + 1);
}

const events = new EventSource('/events');
events.onmessage = (e) => render(JSON.parse(e.data));
events.onerror = () => ($('#status').textContent = 'disconnected; retrying…');
