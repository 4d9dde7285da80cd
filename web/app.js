// aesthete web page: uploads images to /api/score, shows them sorted best first.
// No framework, no network access besides this server.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { items: [], nextId: 1, maxBytes: 20 * 1024 * 1024, busy: 0, generation: 0, training: false, trained: false };

function fmt(v, digits) { return v === null || v === undefined ? '—' : Number(v).toFixed(digits); }

function setStatus(text) { $('status').textContent = text; }

function reject(name, message) {
  const li = document.createElement('li');
  li.textContent = message.startsWith(`${name}:`) ? message : `${name}: ${message}`;
  $('rejected').appendChild(li);
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
    $('max-mb').textContent = Math.round(state.maxBytes / 1048576);
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

function init() {
  const drop = $('drop');
  $('files').addEventListener('change', (e) => { addFiles(e.target.files); e.target.value = ''; });
  ['dragenter', 'dragover'].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add('over'); }));
  ['dragleave', 'drop'].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove('over'); }));
  drop.addEventListener('drop', (e) => { if (e.dataTransfer && e.dataTransfer.files.length) addFiles(e.dataTransfer.files); });
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
  loadInfo();
  render();
}

document.addEventListener('DOMContentLoaded', init);
