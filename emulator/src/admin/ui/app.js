// fcemu's dashboard: reads the admin API (/_fcemu/*) and the OSS API of the same port. State-
// changing calls carry the process's token (the page's <meta name="fcemu-token">), which the
// admin API asks of browsers.
'use strict';

const token = document.querySelector('meta[name="fcemu-token"]').content;
const $ = (sel, root = document) => root.querySelector(sel);
const state = { functions: [], triggers: [], invocations: new Map(), bucket: null, prefix: '', next: null };

// A call to fcemu; JSON answers parsed, errors thrown with the service's message.
async function api(path, opts = {}) {
  const headers = Object.assign({ 'x-fcemu-token': token }, opts.headers || {});
  const r = await fetch(path, Object.assign({}, opts, { headers }));
  const type = r.headers.get('content-type') || '';
  const body = type.includes('json') ? await r.json() : await r.text();
  if (!r.ok) {
    const msg = typeof body === 'object' ? `${body.error || r.status}: ${body.message || ''}` : body;
    throw new Error(msg);
  }
  return { status: r.status, headers: r.headers, body };
}

// Builds an element: el('td', {class: 'x'}, 'text', child, ...).
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return e;
}

const fmtTime = (s) => (s ? s.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '');
const fmtBytes = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`);
const pretty = (text) => {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
};
function showError(target, err) {
  target.textContent = String(err.message || err);
  target.classList.add('error');
}

// ---------------------------------------------------------------- views

function show(view) {
  for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== view;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.view === view);
  const load = { functions: loadFunctions, storage: loadBuckets, tables: loadTables, logs: loadLogstores, batch: loadJobs, clock: loadClock }[view];
  if (load) load().catch((e) => console.error(e));
}
window.addEventListener('hashchange', () => show(location.hash.slice(1) || 'functions'));

// ---------------------------------------------------------------- functions

function triggerText(t) {
  const c = t.kind || {};
  switch (c.type) {
    case 'http': return `http ${(c.methods || []).join(',') || '*'} ${c.path}`;
    case 'oss': return `oss ${c.bucket}/${c.prefix || ''}*${c.suffix || ''}`;
    case 'timer': return `timer ${c.cron}`;
    case 'tablestore': return `tablestore ${c.instance}/${c.table}`;
    case 'log': return `log ${c.project}/${c.logstore}`;
    default: return t.name;
  }
}

// A synthetic event for a trigger, as POST /_fcemu/events takes it.
function sampleEvent(t) {
  const c = t.kind || {};
  switch (c.type) {
    case 'oss': return { type: 'oss', bucket: c.bucket, key: `${c.prefix || ''}example${c.suffix || '.jpg'}` };
    case 'timer': return { type: 'timer', function: t.function, trigger: t.name };
    case 'tablestore': return { type: 'tablestore', instance: c.instance, table: c.table };
    case 'log': return { type: 'log', project: c.project, logstore: c.logstore };
    default: return null;
  }
}

async function loadFunctions() {
  const { body } = await api('/_fcemu/functions');
  state.functions = body.functions;
  $('#generation').textContent = `generation ${body.generation}`;
  const errors = new Map();
  for (const r of state.invocations.values()) if (r.status !== 'success') errors.set(r.function, r);
  $('#function-list tbody').replaceChildren(...body.functions.map((f) => {
    const err = errors.get(f.name);
    return el('tr', { 'data-function': f.name },
      el('td', {}, el('strong', {}, f.name), el('br'), el('small', {}, f.service)),
      el('td', {}, f.runtime || f.kind, f.interpreter ? el('br') : '', f.interpreter ? el('small', {}, f.interpreter.version) : ''),
      el('td', {}, el('code', {}, (f.codeHash || '').slice(0, 12)), el('br'), el('small', {}, [f.tier, f.cache].filter(Boolean).join(', '))),
      el('td', {}, `${f.memory} MB, ${f.timeout} s, ×${f.concurrency}`, el('br'), el('small', {}, `running ${f.running}${f.instances != null ? `, instances ${f.instances}` : ''}`)),
      el('td', {}, ...f.triggers.map((t) => el('div', {}, triggerText(t)))),
      el('td', {}, f.reloads, el('br'), el('small', {}, fmtTime(f.loadedAt))),
      el('td', { class: err ? 'bad' : '' }, err ? `${err.errorType || err.status} ${fmtTime(err.startedAt)}` : ''));
  }));
  const select = $('#invoke-function');
  const chosen = select.value;
  select.replaceChildren(...body.functions.map((f) => el('option', { value: f.name }, f.name)));
  if (chosen) select.value = chosen;
  fillFilterFunctions();
  updateSamples();
}

function updateSamples() {
  const f = state.functions.find((x) => x.name === $('#invoke-function').value);
  const samples = $('#invoke-sample');
  samples.replaceChildren(el('option', { value: '' }, '(your own)'));
  for (const t of (f ? f.triggers : [])) {
    const ev = sampleEvent(Object.assign({ function: f.name }, t));
    if (ev) samples.append(el('option', { value: JSON.stringify(ev) }, `${t.name}: synthetic ${ev.type} event`));
  }
}

$('#invoke-function').addEventListener('change', updateSamples);
$('#invoke-sample').addEventListener('change', (e) => {
  if (e.target.value) $('#invoke-event').value = JSON.stringify(JSON.parse(e.target.value), null, 2);
});

$('#invoke-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('#invoke-result');
  out.classList.remove('error');
  out.textContent = '…';
  const name = $('#invoke-function').value;
  const event = $('#invoke-event').value;
  const synthetic = $('#invoke-sample').value && event.includes('"type"');
  try {
    if (synthetic) {
      const { body } = await api('/_fcemu/events', { method: 'POST', body: event, headers: { 'content-type': 'application/json' } });
      out.textContent = `queued ${body.requestIds.join(', ')} — see Invocations`;
    } else {
      const r = await api(`/_fcemu/functions/${encodeURIComponent(name)}/invoke`, { method: 'POST', body: event });
      const errorType = r.headers.get('x-fc-error-type');
      out.textContent = `${r.headers.get('x-fc-request-id')}${errorType ? ` ${errorType}` : ''}\n${pretty(typeof r.body === 'string' ? r.body : JSON.stringify(r.body))}`;
      if (errorType) out.classList.add('error');
    }
  } catch (err) { showError(out, err); }
});

// ---------------------------------------------------------------- invocations (live)

function filters() {
  const f = new FormData($('#invocation-filter'));
  return { function: f.get('function'), trigger: f.get('trigger').trim(), status: f.get('status') };
}

function fillFilterFunctions() {
  const select = $('#invocation-filter select[name="function"]');
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '' }, 'any'), ...state.functions.map((f) => el('option', {}, f.name)));
  select.value = chosen;
}

function matches(r, f) {
  return (!f.function || r.function === f.function) && (!f.trigger || r.trigger === f.trigger) && (!f.status || r.status === f.status);
}

function invocationRow(r) {
  return el('tr', { 'data-seq': r.seq, class: r.status === 'success' ? '' : 'bad', onclick: () => detail(r) },
    el('td', {}, r.seq), el('td', {}, fmtTime(r.startedAt)), el('td', {}, r.function), el('td', {}, r.trigger),
    el('td', {}, r.errorType ? `${r.status} (${r.errorType})` : r.status), el('td', { class: 'num' }, r.durationMs.toFixed(1)),
    el('td', { class: 'num' }, fmtBytes(r.maxMemoryBytes)), el('td', { class: 'num' }, r.attempt));
}

function renderInvocations() {
  const f = filters();
  const rows = [...state.invocations.values()].filter((r) => matches(r, f)).reverse().slice(0, 500);
  $('#invocation-list tbody').replaceChildren(...rows.map(invocationRow));
}

// The invocation as a step of an `fcemu test` case.
function asTestStep(r) {
  const event = r.eventEncoding === 'base64' ? '' : r.event;
  const quoted = event.includes("'''") ? JSON.stringify(event) : `'''${event}'''`;
  return `[[steps]]\ninvoke = ${JSON.stringify(r.function)}\nevent = ${quoted}\n`;
}

// The causal chain of an invocation: the invocations whose writes led to it (oldest first) and
// those its own writes caused, transitively, from the records' `causedBy` links.
function chainOf(r) {
  const all = [...state.invocations.values()];
  const byId = new Map(all.map((x) => [x.requestId, x]));
  const up = [];
  for (let p = byId.get(r.causedBy); p && up.length < 50; p = byId.get(p.causedBy)) up.unshift(p);
  const down = (x, depth) => (depth > 20 ? [] : all.filter((c) => c.causedBy === x.requestId)
    .sort((a, b) => a.seq - b.seq)
    .flatMap((c) => [[c, depth], ...down(c, depth + 1)]));
  return { up, down: down(r, 1), missing: r.causedBy && !byId.has(r.causedBy) ? r.causedBy : null };
}

function detail(r) {
  const { up, down, missing } = chainOf(r);
  const link = (x, text) => el('a', { href: '#invocations', onclick: () => detail(x) }, `${text} ${x.function} #${x.seq} (${x.trigger})`);
  const chain = [
    ...(missing ? [el('li', {}, `caused by ${missing} (no longer listed)`)] : []),
    ...up.map((x) => el('li', {}, link(x, 'caused by'))),
    ...down.map(([x, depth]) => el('li', {}, '\u00a0\u00a0'.repeat(depth - 1), link(x, depth > 1 ? '↳ caused' : 'caused'))),
  ];
  const copy = el('button', { type: 'button', onclick: async () => {
    await navigator.clipboard.writeText(asTestStep(r)).catch(() => {});
    copy.textContent = 'Copied';
  } }, 'Copy as fcemu test step');
  $('#invocation-detail').replaceChildren(
    el('h3', {}, `${r.function} #${r.seq}`),
    el('p', {}, `${r.requestId} · ${r.trigger} · ${r.status}${r.errorType ? ` (${r.errorType})` : ''} · ${r.durationMs.toFixed(1)} ms · instance ${r.instanceId || '-'} · chain depth ${r.chainDepth}`),
    copy,
    el('h4', {}, 'Event'), el('pre', {}, r.eventEncoding === 'base64' ? `(binary, base64) ${r.event}` : pretty(r.event)),
    el('h4', {}, 'Result'), el('pre', { class: r.status === 'success' ? '' : 'error' }, r.resultEncoding === 'base64' ? `(binary, base64) ${r.result}` : pretty(r.result)),
    el('h4', {}, 'Logs'), el('pre', { class: 'logs' }, r.logs.join('\n')),
    el('h4', {}, 'Causal chain'),
    chain.length
      ? el('ul', { class: 'chain' }, ...chain)
      : el('p', { class: 'hint' }, 'not caused by a function, and caused no invocation'),
  );
}

function add(r) {
  state.invocations.set(r.seq, r);
  if (state.invocations.size > 2000) state.invocations.delete(state.invocations.keys().next().value);
  $('#live-count').textContent = String(state.invocations.size);
  if (matches(r, filters())) $('#invocation-list tbody').prepend(invocationRow(r));
}

async function startLive() {
  const { body } = await api('/_fcemu/invocations?limit=500');
  for (const r of body.invocations) state.invocations.set(r.seq, r);
  $('#live-count').textContent = state.invocations.size ? String(state.invocations.size) : '';
  renderInvocations();
  const source = new EventSource('/_fcemu/invocations/stream');
  source.addEventListener('invocation', (e) => add(JSON.parse(e.data)));
}

$('#invocation-filter').addEventListener('input', renderInvocations);
$('#clear-invocations').addEventListener('click', async () => {
  await api('/_fcemu/invocations', { method: 'DELETE' });
  state.invocations.clear();
  $('#live-count').textContent = '';
  renderInvocations();
});

// ---------------------------------------------------------------- OSS

async function loadBuckets() {
  const { body } = await api('/_fcemu/buckets');
  $('#bucket-list').replaceChildren(...body.buckets.map((b) => el('li', {},
    el('a', { href: '#storage', class: b.name === state.bucket ? 'active' : '', onclick: () => openPrefix(b.name, '') }, b.name))));
  if (!state.bucket && body.buckets.length) await openPrefix(body.buckets[0].name, '');
  else if (state.bucket) await openPrefix(state.bucket, state.prefix);
}

const objectUrl = (bucket, key) => `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;

async function openPrefix(bucket, prefix, after) {
  state.bucket = bucket;
  state.prefix = prefix;
  for (const a of document.querySelectorAll('#bucket-list a')) a.classList.toggle('active', a.textContent === bucket);
  const q = new URLSearchParams({ prefix, limit: '100' });
  if (after) q.set('after', after);
  const { body } = await api(`/_fcemu/buckets/${encodeURIComponent(bucket)}/objects?${q}`);
  const parts = prefix.split('/').filter(Boolean);
  $('#object-path').replaceChildren(
    el('a', { href: '#storage', onclick: () => openPrefix(bucket, '') }, bucket), ' / ',
    ...parts.map((p, i) => [el('a', { href: '#storage', onclick: () => openPrefix(bucket, `${parts.slice(0, i + 1).join('/')}/`) }, p), ' / ']));
  const rows = [
    ...body.prefixes.map((p) => el('tr', {}, el('td', {}, el('a', { href: '#storage', onclick: () => openPrefix(bucket, p) }, `${p.slice(prefix.length)}`)), el('td', {}, ''), el('td', {}, 'folder'), el('td', {}, ''), el('td', {}, ''))),
    ...body.objects.map((o) => el('tr', { 'data-key': o.key },
      el('td', {}, el('a', { href: '#storage', onclick: () => showObject(bucket, o) }, o.key.slice(prefix.length))),
      el('td', { class: 'num' }, fmtBytes(o.size)), el('td', {}, o.contentType || ''),
      el('td', {}, fmtTime(o.lastModified)),
      el('td', {}, el('a', { href: objectUrl(bucket, o.key), download: o.key.split('/').pop() }, 'download'), ' ',
        el('button', { type: 'button', onclick: () => removeObject(bucket, o.key) }, 'delete')))),
  ];
  const tbody = $('#object-list tbody');
  if (after) tbody.append(...rows); else tbody.replaceChildren(...rows);
  const more = $('#objects-more');
  more.hidden = !body.next;
  more.onclick = () => openPrefix(bucket, prefix, body.next);
  $('#upload-form input[name="key"]').placeholder = `${prefix}<file name>`;
}

// An object's metadata: headers, user metadata (x-oss-meta-*), tags, class and type.
function showObject(bucket, o) {
  const pairs = (title, entries) => [el('h4', {}, title), entries.length
    ? el('table', { class: 'grid' }, el('tbody', {}, ...entries.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v)))))
    : el('p', { class: 'hint' }, 'none')];
  const box = $('#object-detail');
  box.hidden = false;
  box.replaceChildren(
    el('h3', {}, `${bucket}/${o.key}`),
    el('p', {}, `${fmtBytes(o.size)} · ${o.type} · ${o.storageClass} · ETag ${o.etag} · ${fmtTime(o.lastModified)}`),
    ...pairs('Headers', Object.entries(o.headers || {})),
    ...pairs('User metadata', Object.entries(o.userMeta || {})),
    ...pairs('Tags', (o.tags || []).map((t) => [t.key, t.value])),
  );
}

async function removeObject(bucket, key) {
  if (!confirm(`Delete ${bucket}/${key}?`)) return;
  await fetch(objectUrl(bucket, key), { method: 'DELETE' });
  await openPrefix(bucket, state.prefix);
}

$('#upload-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('#upload-result');
  out.classList.remove('error');
  const file = e.target.file.files[0];
  if (!file || !state.bucket) return;
  const key = e.target.key.value.trim() || `${state.prefix}${file.name}`;
  const r = await fetch(objectUrl(state.bucket, key), { method: 'PUT', body: file, headers: { 'content-type': file.type || 'application/octet-stream' } });
  if (!r.ok) return showError(out, new Error(`${r.status} ${await r.text()}`));
  out.textContent = `uploaded ${state.bucket}/${key} (${fmtBytes(file.size)}); triggers on it fire — see Invocations`;
  await openPrefix(state.bucket, state.prefix);
});

// ---------------------------------------------------------------- Table Store

async function loadTables() {
  const { body } = await api('/_fcemu/tables');
  $('#table-list').replaceChildren(...body.tables.map((t) => el('li', {},
    el('a', { href: '#tables', onclick: () => openTable(t) }, `${t.instance}/${t.name}`), t.stream ? el('small', {}, ' stream') : '')));
  if (body.tables.length) await openTable(state.table && body.tables.find((t) => t.name === state.table.name && t.instance === state.table.instance) || body.tables[0]);
}

const cell = (v) => (v && typeof v === 'object' ? JSON.stringify(v) : String(v ?? ''));

async function openTable(t) {
  state.table = t;
  const { body } = await api(`/_fcemu/tables/${encodeURIComponent(t.instance)}/${encodeURIComponent(t.name)}/rows?limit=200`);
  $('#row-path').textContent = `${t.instance}/${t.name}: ${body.total} row(s)${body.total > body.rows.length ? `, the first ${body.rows.length}` : ''}; primary key ${t.primaryKey.join(', ')}`;
  const columns = [...new Set(body.rows.flatMap((r) => Object.keys(r.columns)))];
  $('#row-list thead').replaceChildren(el('tr', {}, ...t.primaryKey.map((k) => el('th', { class: 'pk' }, k)), ...columns.map((c) => el('th', {}, c))));
  $('#row-list tbody').replaceChildren(...body.rows.map((r) => el('tr', {},
    ...t.primaryKey.map((k) => el('td', { class: 'pk' }, cell(r.primaryKey[k]))), ...columns.map((c) => el('td', {}, cell(r.columns[c]))))));
  await openStream(t);
}

// The table's stream, newest records last, as a Table Store trigger reads them.
async function openStream(t) {
  const view = $('#stream-view');
  view.hidden = !t.stream;
  if (!t.stream) return;
  const { body } = await api(`/_fcemu/tables/${encodeURIComponent(t.instance)}/${encodeURIComponent(t.name)}/stream?limit=100`);
  const fmtCols = (cols) => cols.map((c) => (c.op === 'put' ? `${c.name}=${cell(c.value)}` : `${c.op} ${c.name}`)).join(', ');
  $('#stream-list tbody').replaceChildren(...body.records.map((r) => el('tr', {},
    el('td', {}, fmtTime(r.time)), el('td', {}, r.action), el('td', { class: 'pk' }, cell(r.primaryKey)), el('td', {}, fmtCols(r.columns)))));
}

// ---------------------------------------------------------------- BatchCompute

async function loadJobs() {
  const { body } = await api('/_fcemu/batch');
  $('#job-none').hidden = body.jobs.length > 0;
  const instance = (i) => `#${i.id} ${i.state}${i.exitCode !== null && i.exitCode !== undefined ? ` (exit ${i.exitCode})` : ''}${i.retries ? `, ${i.retries} retries` : ''}${i.error && i.state !== 'Finished' ? `: ${i.error}` : ''}`;
  $('#job-list tbody').replaceChildren(...body.jobs.map((j) => el('tr', { 'data-job': j.id },
    el('td', {}, el('strong', {}, j.name), el('br'), el('small', {}, j.id)),
    el('td', { class: j.state === 'Failed' ? 'error' : '' }, j.state, j.message ? el('br') : '', j.message ? el('small', {}, j.message) : ''),
    el('td', {}, el('ul', { class: 'tasks' }, ...j.tasks.map((t) => el('li', {},
      el('strong', {}, t.name), ` ${t.state}`, t.after.length ? el('small', {}, ` after ${t.after.join(', ')}`) : '',
      t.cluster ? el('small', {}, ` on ${t.cluster}`) : '', el('br'), el('code', {}, t.command), el('br'), el('small', {}, t.instances.map(instance).join(' · ')))))),
    el('td', {}, fmtTime(j.created)), el('td', {}, fmtTime(j.ended)))));
  const clusters = $('#cluster-list');
  clusters.hidden = body.clusters.length === 0;
  clusters.textContent = `Clusters (local worker pools): ${body.clusters.map((c) => `${c.name || c.id} ${c.busy}/${c.slots} busy`).join(' · ')}`;
}

// ---------------------------------------------------------------- Log Service

async function loadLogstores() {
  const { body } = await api('/_fcemu/logstores');
  const select = $('#logstore');
  const chosen = select.value;
  select.replaceChildren(...body.logstores.map((l) => el('option', { value: `${l.project}/${l.logstore}` }, `${l.project} / ${l.logstore}`)));
  if (chosen) select.value = chosen;
  if (select.value) await searchLogs();
}

async function searchLogs() {
  const form = new FormData($('#log-form'));
  const [project, logstore] = String(form.get('logstore')).split('/');
  const range = Number(form.get('range'));
  const q = new URLSearchParams({ query: form.get('query') || '*' });
  if (range) {
    const now = Math.floor(Date.parse($('#now').dataset.now || new Date().toISOString()) / 1000);
    q.set('from', String(now - range));
    q.set('to', String(now + 1));
  }
  const count = $('#log-count');
  count.classList.remove('error');
  try {
    const { body } = await api(`/_fcemu/logs/${encodeURIComponent(project)}/${encodeURIComponent(logstore)}?${q}`);
    count.textContent = body.sql ? `${body.rows.length} row(s)` : `${body.count} matching log(s)${body.count > body.rows.length ? `, the newest ${body.rows.length}` : ''}`;
    const max = Math.max(1, ...body.histogram.map((h) => h.count));
    $('#histogram').replaceChildren(...body.histogram.map((h) => {
      const bar = el('div', { class: 'bar', title: `${new Date(h.from * 1000).toISOString()}: ${h.count}` });
      bar.style.height = `${Math.round((h.count / max) * 100)}%`; // CSSOM: allowed by the page's CSP
      return bar;
    }));
    const keys = body.sql ? body.keys : ['__time__', ...body.keys.filter((k) => !k.startsWith('__'))];
    $('#log-rows thead').replaceChildren(el('tr', {}, ...keys.map((k) => el('th', {}, k))));
    $('#log-rows tbody').replaceChildren(...body.rows.map((r) => el('tr', {}, ...keys.map((k) => el('td', {},
      k === '__time__' && r[k] ? fmtTime(new Date(Number(r[k]) * 1000).toISOString()) : r[k] ?? '')))));
  } catch (err) { showError(count, err); }
}

$('#log-form').addEventListener('submit', (e) => { e.preventDefault(); searchLogs(); });

// ---------------------------------------------------------------- clock and triggers

async function tick() {
  const { body } = await api('/_fcemu/clock');
  const now = $('#now');
  now.dataset.now = body.now;
  now.textContent = `${fmtTime(body.now)} UTC${body.virtual ? ' (virtual)' : ''}`;
  $('#clock-now').textContent = body.now;
  $('#clock-kind').textContent = body.virtual ? 'virtual: moves only when advanced' : "the host's clock (start fcemu with --deterministic to move it)";
  $('#advance-form button').disabled = !body.virtual;
}

async function loadClock() {
  await tick();
  const { body } = await api('/_fcemu/triggers');
  state.triggers = body.triggers;
  $('#trigger-list tbody').replaceChildren(...body.triggers.map((t) => {
    const ev = sampleEvent({ function: t.function, name: t.name, kind: t.config });
    return el('tr', {},
      el('td', {}, t.function), el('td', {}, t.name, t.enabled ? '' : el('small', {}, ' (disabled)')), el('td', {}, t.type),
      el('td', {}, t.lastFiring ? `${fmtTime(t.lastFiring.startedAt)} ${t.lastFiring.status}` : ''), el('td', {}, fmtTime(t.nextFiring || '')),
      el('td', {}, ev ? el('button', { type: 'button', onclick: () => fire(ev) }, 'fire now') : ''));
  }));
}

async function fire(ev) {
  const out = $('#advance-result');
  out.classList.remove('error');
  try {
    const { body } = await api('/_fcemu/events', { method: 'POST', body: JSON.stringify(ev), headers: { 'content-type': 'application/json' } });
    out.textContent = `fired ${ev.type}: queued ${body.requestIds.join(', ')}`;
  } catch (err) { showError(out, err); }
}

$('#advance-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('#advance-result');
  out.classList.remove('error');
  try {
    const by = new FormData(e.target).get('by');
    const { body } = await api(`/_fcemu/clock/advance?by=${encodeURIComponent(by)}`, { method: 'POST' });
    out.textContent = `now ${body.now}; fired: ${body.fired.map((f) => `${f.function} (${f.trigger}) at ${f.triggerTime}`).join(', ') || 'nothing'}`;
    await loadClock();
  } catch (err) { showError(out, err); }
});

// ---------------------------------------------------------------- start

show(location.hash.slice(1) || 'functions');
startLive().catch((e) => console.error(e));
tick().catch(() => {});
setInterval(() => tick().catch(() => {}), 5000);
