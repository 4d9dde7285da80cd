// aesthete web page. Rank: uploads images to /api/score, shows them sorted best first.
// Cull: sends them together to /api/cull, shows the groups of copies and bursts with their
// keepers. No framework, no network access besides this server.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { items: [], nextId: 1, maxBytes: 20 * 1024 * 1024, busy: 0, generation: 0, training: false, trained: false };
// the cull view: its images (File objects, kept to cull again), the last answer, the request
// in flight and the scoring the answer was made with
const cull = { items: [], result: null, controller: null, scoring: null };

function fmt(v, digits) { return v === null || v === undefined ? '—' : Number(v).toFixed(digits); }

function setStatus(text) { $('status').textContent = text; }

function reject(name, message, list = $('rejected')) {
  const li = document.createElement('li');
  li.dataset.file = name;
  li.textContent = message.startsWith(`${name}:`) ? message : `${name}: ${message}`;
  list.appendChild(li);
}

// Query parameters of the chosen method and adjectives.
function scoringParams() {
  const p = new URLSearchParams();
  const m = $('method').value;
  if (m.startsWith('bank:')) { p.set('bank', m.slice(5)); return p; }
  if (m !== 'default') p.set('method', m);
  if (m !== 'laion') {
    const pos = $('positive').value.trim(), neg = $('negative').value.trim();
    if (pos) p.set('positive', pos);
    if (neg) p.set('negative', neg);
  }
  return p;
}

async function loadInfo() {
  try {
    const r = await fetch('/api/info');
    const info = await r.json();
    $('model-line').textContent = `Model: ${info.model.name} (${info.model.embed_dim}-d embeddings), aesthete ${info.version}`;
    state.maxBytes = info.limits.max_upload_bytes;
    $('max-mb').textContent = $('cull-max-mb').textContent = Math.round(state.maxBytes / 1048576);
    for (const b of info.banks) {
      if (!b.loaded) continue;
      addBankOption(b.id, `Bank “${b.id}” (${b.method}${b.default ? ', server default' : ''})`, false);
    }
  } catch (e) {
    $('model-line').textContent = 'The server did not answer /api/info.';
  }
}

function addBankOption(id, text, select) {
  const sel = $('method');
  let opt = [...sel.options].find((o) => o.value === 'bank:' + id);
  if (!opt) {
    opt = document.createElement('option');
    opt.value = 'bank:' + id;
    sel.appendChild(opt);
  }
  opt.textContent = text;
  if (select) sel.value = opt.value;
}

function updateProgress() {
  const total = state.items.length;
  const done = state.items.filter((it) => !it.pending).length;
  const bar = $('progress');
  if (state.busy > 0) {
    bar.hidden = false;
    bar.max = Math.max(total, 1);
    bar.value = done;
    setStatus(`Scoring… ${done} of ${total}`);
  } else {
    bar.hidden = true;
    setStatus(total ? `${total} image${total > 1 ? 's' : ''} scored.` : '');
  }
  $('rescore').disabled = total === 0 || state.busy > 0;
  $('clear').disabled = total === 0;
}

function scoreBar(result) {
  let f = result.probability !== null ? result.probability : (result.score - 1) / 9;
  f = Math.max(0, Math.min(1, f));
  const span = document.createElement('span');
  span.style.width = `${(f * 100).toFixed(1)}%`;
  span.style.background = `hsl(${Math.round(f * 120)}, 60%, 42%)`;
  const bar = document.createElement('div');
  bar.className = 'bar';
  bar.setAttribute('role', 'img');
  bar.setAttribute('aria-label', `score bar ${(f * 100).toFixed(0)} percent`);
  bar.appendChild(span);
  return bar;
}

function fmtMB(bytes) { return `${(bytes / 1048576).toFixed(1)} MB`; }

function fact(dl, name, value, cls) {
  const dt = document.createElement('dt');
  dt.textContent = name;
  const dd = document.createElement('dd');
  dd.textContent = value;
  dd.dataset.field = name.toLowerCase();
  if (cls) dd.className = cls;
  dl.append(dt, dd);
}

function render() {
  const list = $('results');
  const scored = state.items.filter((it) => it.result).sort((a, b) => b.result.score - a.result.score || a.id - b.id);
  const pending = state.items.filter((it) => !it.result);
  list.textContent = '';
  [...scored, ...pending].forEach((it, i) => {
    const li = document.createElement('li');
    li.className = 'card';
    li.dataset.file = it.file.name;
    const img = document.createElement('img');
    img.src = it.url;
    img.alt = it.file.name;
    li.appendChild(img);
    const name = document.createElement('p');
    name.className = 'name';
    name.textContent = it.file.name;
    li.appendChild(name);
    if (it.result) {
      const r = it.result;
      li.dataset.score = String(r.score);
      if (i === 0) {
        li.classList.add('best');
        const badge = document.createElement('span');
        badge.className = 'badge';
        badge.textContent = '★ Best';
        li.appendChild(badge);
        li.setAttribute('aria-label', `best image: ${it.file.name}`);
      }
      const rank = document.createElement('span');
      rank.className = 'rank';
      rank.textContent = `#${i + 1}`;
      li.appendChild(rank);
      li.appendChild(scoreBar(r));
      const dl = document.createElement('dl');
      dl.className = 'facts';
      fact(dl, 'Score', fmt(r.score, 3));
      fact(dl, 'Probability', r.probability === null ? '—' : fmt(r.probability, 4));
      fact(dl, 'Label', r.label, r.label === 'good' ? 'label-good' : 'label-bad');
      fact(dl, 'Class', r.class === null ? '—' : r.class);
      // the head's name (a trained head's, a loaded bank's), not its internal id
      fact(dl, 'Method', r.head && r.head !== r.method ? `${r.method} (${r.head})` : r.method);
      li.appendChild(dl);
      li.appendChild(thumbs(it));
    } else {
      li.classList.add('pending');
      const p = document.createElement('p');
      p.className = 'hint';
      p.textContent = 'scoring…';
      li.appendChild(p);
    }
    list.appendChild(li);
  });
  $('empty').hidden = state.items.length > 0;
  updateProgress();
  updateTaste();
}

// Like / dislike (thumbs up / down): the user's own labels, for "train my taste".
function thumbs(it) {
  const div = document.createElement('div');
  div.className = 'thumbs';
  div.setAttribute('role', 'group');
  div.setAttribute('aria-label', `your label for ${it.file.name}`);
  for (const [value, text, title] of [[1, 'Like', 'I like it'], [0, 'Dislike', 'I do not like it']]) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = value ? 'up' : 'down';
    b.textContent = text;
    b.title = title;
    b.setAttribute('aria-label', `${title}: ${it.file.name}`);
    b.setAttribute('aria-pressed', String(it.label === value));
    b.addEventListener('click', () => {
      it.label = it.label === value ? null : value;
      render();
    });
    div.appendChild(b);
  }
  return div;
}

function updateTaste() {
  const up = state.items.filter((it) => it.label === 1 && it.embedding).length;
  const down = state.items.filter((it) => it.label === 0 && it.embedding).length;
  $('train').disabled = up < 2 || down < 2 || state.training;
  if (!state.training && !state.trained) {
    $('taste-status').textContent = up + down
      ? `${up} liked, ${down} disliked${up < 2 || down < 2 ? ': mark at least 2 of each' : ''}.`
      : '';
  }
}

async function trainTaste() {
  const labelled = state.items.filter((it) => it.label !== null && it.label !== undefined && it.embedding);
  const out = $('taste-status');
  state.training = true;
  state.trained = false;
  updateTaste();
  out.textContent = `Training on ${labelled.length} images…`;
  try {
    const r = await fetch('/api/head', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: $('taste-name').value.trim() || 'my taste',
        embeddings: labelled.map((it) => it.embedding), labels: labelled.map((it) => it.label) }),
    });
    const j = await r.json();
    if (r.status !== 200) {
      out.textContent = `Not trained: ${j.error}`;
    } else {
      state.trained = true;
      addBankOption(j.id, `Your taste: ${j.name} (${j.images} images)`, true);
      out.textContent = `Trained “${j.name}” on ${j.good} liked and ${j.bad} disliked images: `
        + `cross-validated accuracy ${fmt(j.accuracy, 3)}. Scoring with it now.`;
      const a = $('taste-download');
      a.href = j.download;
      a.hidden = false;
      rescoreAll();
    }
  } catch (e) {
    out.textContent = 'The server could not be reached.';
  }
  state.training = false;
  updateTaste();
}

function removeItem(it) {
  URL.revokeObjectURL(it.url);
  state.items = state.items.filter((x) => x !== it);
}

async function scoreOne(it, generation) {
  const params = scoringParams();
  if (!it.embedding) params.set('embedding', '1'); // kept for "train my taste"
  for (let attempt = 0; attempt < 5; attempt++) {
    const body = new FormData();
    body.append('file', it.file, it.file.name);
    let r, j;
    try {
      r = await fetch('/api/score?' + params.toString(), { method: 'POST', body });
      j = await r.json();
    } catch (e) {
      j = { error: 'the server could not be reached' };
      r = { status: 0 };
    }
    if (generation !== state.generation) return;
    if (r.status === 503 && attempt < 4) { // busy: wait as told, then retry
      await new Promise((res) => setTimeout(res, 1000 * (attempt + 1)));
      continue;
    }
    if (r.status === 200) {
      if (j.embedding) { it.embedding = j.embedding; delete j.embedding; }
      it.result = j;
      it.pending = false;
    } else {
      reject(it.file.name, j.error || `HTTP ${r.status}`);
      removeItem(it);
    }
    return;
  }
}

async function scoreItems(items) {
  const generation = state.generation;
  items.forEach((it) => { it.pending = true; it.result = null; });
  state.busy++;
  render();
  const queue = items.slice();
  const worker = async () => {
    while (queue.length) {
      const it = queue.shift();
      await scoreOne(it, generation);
      if (generation === state.generation) render();
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  if (generation === state.generation) state.busy--;
  if (generation === state.generation) render();
}

function addFiles(fileList) {
  $('rejected').textContent = '';
  const fresh = [];
  for (const file of fileList) {
    if (file.size > state.maxBytes) {
      reject(file.name, `larger than the server's limit of ${Math.round(state.maxBytes / 1048576)} MB`);
      continue;
    }
    const it = { id: state.nextId++, file, url: URL.createObjectURL(file), result: null, pending: true };
    state.items.push(it);
    fresh.push(it);
  }
  if (fresh.length) scoreItems(fresh);
}

async function buildBank() {
  const file = $('classes').files[0];
  const out = $('bank-status');
  if (!file) { out.textContent = 'Choose a class list file first.'; return; }
  const body = new FormData();
  body.append('classes', file, file.name);
  body.append('method', $('bank-method').value);
  if ($('column').value.trim()) body.append('column', $('column').value.trim());
  if ($('header').checked) body.append('header', '1');
  const pos = $('positive').value.trim(), neg = $('negative').value.trim();
  if (pos) body.append('positive', pos);
  if (neg) body.append('negative', neg);
  out.textContent = 'Building the bank…';
  $('build').disabled = true;
  try {
    const r = await fetch('/api/bank', { method: 'POST', body });
    const j = await r.json();
    if (r.status !== 200) {
      out.textContent = `Rejected: ${j.error}`;
    } else {
      addBankOption(j.id, `Your list: ${j.file} (${j.method}, ${j.n_classes} classes)`, true);
      out.textContent = `Bank ready: ${j.n_classes} classes (${j.classes.slice(0, 5).join(', ')}${j.n_classes > 5 ? ', …' : ''}).`;
      rescoreAll();
    }
  } catch (e) {
    out.textContent = 'The server could not be reached.';
  }
  $('build').disabled = false;
}

function rescoreAll() {
  if (!state.items.length) return;
  state.generation++;
  state.busy = 0;
  scoreItems(state.items.slice());
}

// ---- Cull: groups of copies and bursts, one keeper each (/api/cull) ----

const KIND_TEXT = { exact: 'Exact duplicates', near: 'Near-duplicates', burst: 'Burst' };
const MATCH_TEXT = { bytes: 'identical bytes', pixels: 'identical pixels' };

// The chosen scoring, in words (the Rank view's method and adjectives).
function scoringName() {
  const sel = $('method');
  let text = sel.selectedOptions[0] ? sel.selectedOptions[0].textContent : sel.value;
  const p = scoringParams();
  if (p.has('positive') || p.has('negative')) text += ` (${p.get('positive') || 'default'} / ${p.get('negative') || 'default'})`;
  return text;
}

function setCullStatus(text, error) {
  $('cull-status').textContent = text;
  $('cull-status').classList.toggle('error', !!error);
}

// The grouping settings as query parameters, or a message when one is out of range.
function cullParams() {
  const p = scoringParams();
  for (const [id, name, lo, hi, what] of [['similar', 'similar', 0.5, 1, 'Near-duplicate similarity'],
    ['burst-gap', 'burst_gap', 0, 86400, 'The burst gap']]) {
    const v = $(id).value.trim();
    if (v === '' || !(Number(v) >= lo && Number(v) <= hi)) return { error: `${what} must be a number from ${lo} to ${hi}.` };
    p.set(name, v);
  }
  p.set('keep_by', $('keep-by').value);
  return { params: p };
}

function addCullFiles(fileList) {
  const names = new Set(cull.items.map((it) => it.name));
  for (const file of fileList) {
    // the same file chosen again is not added twice
    if (cull.items.some((it) => it.file.name === file.name && it.file.size === file.size && it.file.lastModified === file.lastModified)) continue;
    // the answer names the files: two different files named alike get distinct names
    let name = file.name;
    for (let n = 2; names.has(name); n++) name = file.name.replace(/(\.[^.]*)?$/, (ext) => ` (${n})${ext}`);
    names.add(name);
    cull.items.push({ file, name, url: URL.createObjectURL(file) });
  }
  runCull();
}

function clearCull() {
  if (cull.controller) cull.controller.abort();
  cull.controller = null;
  cull.items.forEach((it) => URL.revokeObjectURL(it.url));
  cull.items = [];
  cull.result = null;
  setCullStatus('');
  renderCull();
}

// Sends all the images with the current settings; a failed request keeps the images and the
// previous answer, and says why in the status line.
async function runCull() {
  if (!cull.items.length) return;
  const { params, error } = cullParams();
  if (error) { setCullStatus(`Not culled: ${error}`, true); return; }
  const bytes = cull.items.reduce((n, it) => n + it.file.size, 0);
  if (bytes > state.maxBytes) {
    setCullStatus(`Not culled: the ${cull.items.length} images are ${fmtMB(bytes)} together, over the server's limit of ${fmtMB(state.maxBytes)} per request.`, true);
    return;
  }
  if (cull.controller) cull.controller.abort(); // a newer setting wins
  const controller = new AbortController();
  cull.controller = controller;
  const body = new FormData();
  for (const it of cull.items) body.append('file', it.file, it.name);
  const n = cull.items.length;
  setCullStatus(`Culling ${n} image${n > 1 ? 's' : ''}…`);
  renderCull();
  let r = null, j = null;
  try {
    r = await fetch('/api/cull?' + params.toString(), { method: 'POST', body, signal: controller.signal });
    j = await r.json();
  } catch (e) {
    if (controller.signal.aborted) return;
  }
  if (controller !== cull.controller) return;
  cull.controller = null;
  if (r && r.status === 200 && j) {
    cull.result = j;
    cull.scoring = scoringParams().toString();
    setCullStatus(`Culled ${j.summary.images} image${j.summary.images === 1 ? '' : 's'} in ${Math.round(j.elapsed_ms)} ms.`);
  } else {
    const why = !r ? 'the server could not be reached' : j && j.error ? j.error : `HTTP ${r.status}`;
    setCullStatus(`Cull failed: ${why}. ${cull.result ? 'The images and the previous result are kept' : 'The images are kept'}: try again.`, true);
  }
  renderCull();
}

function cullCard(row, it) {
  const li = document.createElement('li');
  li.className = `cull-card ${row ? row.role : 'waiting'}`;
  li.dataset.file = it ? it.name : row.file;
  if (it) {
    const img = document.createElement('img');
    img.src = it.url;
    img.alt = it.name;
    li.appendChild(img);
  }
  const name = document.createElement('p');
  name.className = 'name';
  name.textContent = li.dataset.file;
  li.appendChild(name);
  if (!row) return li;
  li.dataset.role = row.role;
  if (row.role !== 'single') {
    const tag = document.createElement('span');
    tag.className = 'role';
    tag.textContent = row.role === 'keep' ? '✓ Keep' : '✗ Reject';
    li.prepend(tag);
  }
  if (row.reason) {
    const p = document.createElement('p');
    p.className = 'reason';
    p.textContent = row.reason;
    li.appendChild(p);
  }
  const dl = document.createElement('dl');
  dl.className = 'facts';
  fact(dl, 'Score', fmt(row.score, 3));
  fact(dl, 'Sharpness', row.rel_sharpness === null || row.role === 'single'
    ? fmt(row.sharpness, 0) : `${fmt(row.sharpness, 0)} (${Math.round(row.rel_sharpness * 100)}\u00a0%)`);
  fact(dl, 'Size', `${row.width}\u00a0×\u00a0${row.height}`);
  if (row.role === 'reject') fact(dl, 'Similarity', fmt(row.similarity, 3));
  if (row.time) fact(dl, 'Taken', row.time.replace('T', ' '));
  if (row.camera) fact(dl, 'Camera', row.camera);
  li.appendChild(dl);
  return li;
}

function summaryLine(j) {
  const s = j.summary, p = j.params;
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  const el = $('cull-summary');
  el.textContent = '';
  const parts = [['images', plural(s.images, 'image', 'images')], ['groups', plural(s.groups, 'group', 'groups')],
    ['exact', `${s.exact} exact`], ['near', `${s.near} near-duplicate`], ['burst', `${s.burst} burst`],
    ['rejects', plural(s.rejects, 'reject', 'rejects')], ['singles', plural(s.singles, 'single', 'singles')]];
  const text = { images: ': ', groups: ' (', exact: ', ', near: ', ', burst: '), ', rejects: ', ', singles: '' };
  for (const [field, words] of parts) {
    const span = document.createElement('span');
    span.dataset.field = field;
    span.dataset.value = String(s[field]);
    span.textContent = words;
    el.append(span, text[field]);
  }
  if (j.errors.length) el.append(`; ${plural(j.errors.length, 'file', 'files')} not read`);
  el.append(`. Kept by ${p.keep_by}, similarity ≥ ${fmt(p.similar, 2)}, burst gap ${Number(p.burst_gap.toFixed(2))} s.`);
  el.hidden = false;
}

function renderCull() {
  const j = cull.result;
  const byName = new Map(cull.items.map((it) => [it.name, it]));
  const groups = $('cull-groups'), singles = $('cull-singles'), waiting = $('cull-waiting');
  groups.textContent = singles.textContent = waiting.textContent = '';
  $('cull-errors').textContent = '';
  const shown = new Set();
  if (j) {
    summaryLine(j);
    // the answer is ordered by group, the keeper first, singles last
    const boxes = new Map();
    for (const row of j.results) {
      shown.add(row.file);
      if (row.group === null) { singles.appendChild(cullCard(row, byName.get(row.file))); continue; }
      let box = boxes.get(row.group);
      if (!box) {
        box = { li: document.createElement('li'), cards: document.createElement('ul'), rows: [] };
        box.li.className = 'group';
        box.li.dataset.group = String(row.group);
        box.li.dataset.kind = row.kind;
        box.cards.className = 'cull-cards';
        boxes.set(row.group, box);
      }
      box.rows.push(row);
      box.cards.appendChild(cullCard(row, byName.get(row.file)));
    }
    for (const [group, box] of boxes) {
      const matches = [...new Set(box.rows.map((r) => r.match).filter((m) => MATCH_TEXT[m]))];
      const h = document.createElement('h3');
      h.textContent = `Group ${group}: ${KIND_TEXT[box.rows[0].kind] || box.rows[0].kind}`;
      if (box.rows[0].kind === 'exact' && matches.length) {
        const m = document.createElement('span');
        m.className = 'match';
        m.dataset.match = matches.join(' ');
        m.textContent = ` — ${matches.map((x) => MATCH_TEXT[x]).join(', ')}`;
        h.appendChild(m);
      }
      const count = document.createElement('span');
      count.className = 'hint';
      count.textContent = ` ${box.rows.length} images`;
      h.appendChild(count);
      box.li.append(h, box.cards);
      groups.appendChild(box.li);
    }
    for (const e of j.errors) {
      shown.add(e.file);
      reject(e.file, e.error, $('cull-errors'));
    }
  } else {
    $('cull-summary').hidden = true;
  }
  // images added since the last answer (or whose cull failed)
  for (const it of cull.items) if (!shown.has(it.name)) waiting.appendChild(cullCard(null, it));
  $('h-singles').hidden = !singles.children.length;
  $('h-waiting').hidden = !waiting.children.length;
  $('cull-empty').hidden = cull.items.length > 0;
  const busy = cull.controller !== null;
  $('cull-progress').hidden = !busy;
  $('cull-again').disabled = !cull.items.length || busy;
  $('cull-clear').disabled = !cull.items.length;
}

// A file picker and its drop zone: both hand their files to onFiles.
function uploader(inputId, zoneId, onFiles) {
  const drop = $(zoneId);
  $(inputId).addEventListener('change', (e) => { onFiles(e.target.files); e.target.value = ''; });
  ['dragenter', 'dragover'].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add('over'); }));
  ['dragleave', 'drop'].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove('over'); }));
  drop.addEventListener('drop', (e) => { if (e.dataTransfer && e.dataTransfer.files.length) onFiles(e.dataTransfer.files); });
}

// The Rank / Cull switch: tabs (arrow keys, Home and End move between them).
function showView(name) {
  for (const tab of document.querySelectorAll('[role=tab]')) {
    const on = tab.id === `tab-${name}`;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(tab.getAttribute('aria-controls')).hidden = !on;
  }
  if (name === 'cull') {
    $('cull-method').textContent = scoringName();
    // the method changed in Rank since the last cull: cull again with it
    if (cull.items.length && cull.result && cull.scoring !== scoringParams().toString()) runCull();
  }
}

function initTabs() {
  const tabs = [...document.querySelectorAll('[role=tab]')];
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => showView(tab.id.slice(4)));
    tab.addEventListener('keydown', (e) => {
      const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      const next = tabs[(to + tabs.length) % tabs.length];
      showView(next.id.slice(4));
      next.focus();
    });
  });
}

function init() {
  initTabs();
  uploader('files', 'drop', addFiles);
  uploader('cull-files', 'cull-drop', addCullFiles);
  // a drop outside the zone must not navigate away from the page
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
  const width = $('width');
  const setWidth = () => {
    document.documentElement.style.setProperty('--img-width', `${width.value}px`);
    $('width-out').textContent = `${width.value} px`;
  };
  width.addEventListener('input', setWidth);
  setWidth();
  $('method').addEventListener('change', rescoreAll);
  $('positive').addEventListener('change', rescoreAll);
  $('negative').addEventListener('change', rescoreAll);
  $('rescore').addEventListener('click', rescoreAll);
  $('clear').addEventListener('click', () => {
    state.generation++;
    state.busy = 0;
    state.items.forEach((it) => URL.revokeObjectURL(it.url));
    state.items = [];
    $('rejected').textContent = '';
    render();
  });
  $('build').addEventListener('click', buildBank);
  $('train').addEventListener('click', trainTaste);
  ['similar', 'burst-gap', 'keep-by'].forEach((id) => $(id).addEventListener('change', runCull));
  $('cull-again').addEventListener('click', runCull);
  $('cull-clear').addEventListener('click', clearCull);
  loadInfo();
  render();
  renderCull();
}

document.addEventListener('DOMContentLoaded', init);
