// aesthete web page. Rank: uploads images to /api/score, shows them sorted best first, each
// with what scored it; a failed re-score keeps the images and says why on their cards.
// Cull: sends them together to /api/cull, shows the groups of copies and bursts with their
// keepers. No framework, no network access besides this server.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { items: [], nextId: 1, maxBytes: 20 * 1024 * 1024, busy: 0, generation: 0, training: false, trained: false,
  // what /api/info says: the default adjectives, and what each bank is (by id, for the words
  // shown), the class lists uploaded here (to build a bank again that the server forgot)
  defaults: { positive: 'outstanding', negative: 'horrible' }, banks: new Map(), lists: new Map(), rebuilding: new Map(), rebuilds: new Map(),
  defaultBank: null, polling: null };
// the cull view: its images (File objects, kept to cull again), the last answer, the request
// in flight and the scoring the answer was made with
const cull = { items: [], result: null, controller: null, scoring: null };

// fetch for the API: a server started with --auth-token answers 401 until the page sends its
// token; the page then asks for it once (kept for this tab only) and sends it with every call.
async function api(url, opts = {}) {
  for (let tries = 0; ; tries++) {
    const token = sessionStorage.getItem('aesthete-token');
    const headers = Object.assign({}, opts.headers || {}, token ? { Authorization: `Bearer ${token}` } : {});
    const r = await fetch(url, Object.assign({}, opts, { headers }));
    if (r.status !== 401 || tries >= 3) return r; // asked at most three times in a row
    const entered = window.prompt(token ? 'That token was refused. The token of this aesthete server:' : 'This aesthete server needs its token (the one line of the file given to --auth-token):');
    if (!entered) return r;
    sessionStorage.setItem('aesthete-token', entered.trim());
  }
}

function fmt(v, digits) { return v === null || v === undefined ? '—' : Number(v).toFixed(digits); }
function pct(p) { return p === null || p === undefined ? '—' : `${(p * 100).toFixed(1)}%`; }

function setStatus(text) { $('status').textContent = text; }

function reject(name, message, list = $('rejected')) {
  const li = document.createElement('li');
  li.dataset.file = name;
  li.textContent = message.startsWith(`${name}:`) ? message : `${name}: ${message}`;
  list.appendChild(li);
}

// What scored (or will score) an image, in words, from a bank's description: an answer of
// /api/score or an entry of /api/info's banks (method, bank_name / name, classes, n_classes,
// positive, negative, head).
function describe(d) {
  if (!d) return 'the server default';
  if (d.method === 'head') return `head “${d.head}”`;
  if (d.method === 'laion' || d.method === 'laion-v2') return `LAION aesthetic predictor${d.head ? ` (${d.head})` : ''}`;
  const adj = `“${d.positive}” vs “${d.negative}”`;
  if (d.method === 'fixed') return `fixed prompts, ${adj}`;
  const classes = d.classes === 'ImageNet' ? `${d.n_classes} ImageNet classes` : `${d.n_classes} classes of ${d.classes}`;
  return `${d.method}, ${classes}, ${adj}`;
}

// The chosen method as a description (what describe() takes), adjectives included.
function chosen() {
  const m = $('method').value;
  const pos = $('positive').value.trim(), neg = $('negative').value.trim();
  const withAdj = (d) => (d.method === 'head' || d.method.startsWith('laion') ? d
    : { ...d, positive: pos || d.positive, negative: neg || d.negative });
  if (m.startsWith('bank:')) return state.banks.get(m.slice(5)) || null;
  if (m === 'default') return state.defaultBank ? withAdj(state.defaultBank) : null;
  if (m === 'laion' || m === 'laion-v2') return { method: m, head: m === 'laion-v2' ? 'V2' : '' };
  return withAdj({ method: m, classes: m === 'fixed' ? null : 'ImageNet', n_classes: m === 'fixed' ? 0 : 1000,
    positive: state.defaults.positive, negative: state.defaults.negative });
}

// Adjectives apply to prompt methods only: not to a bank or head chosen by name (it fixes its
// prompts), nor to LAION, nor to a default that is a head.
function adjectivesApply() {
  const m = $('method').value;
  if (m.startsWith('bank:') || m.startsWith('laion')) return false;
  return m !== 'default' || !state.defaultBank || state.defaultBank.kind === 'prompts';
}

function updateScoringLine() {
  const on = adjectivesApply();
  for (const id of ['positive', 'negative']) $(id).disabled = !on;
  const note = $('adjectives-note');
  note.hidden = on;
  note.textContent = on ? '' : 'The chosen bank or head fixes its prompts: adjectives do not apply.';
  $('scoring-line').textContent = `Scoring with: ${describe(chosen())}`;
}

// Query parameters of the chosen method and adjectives.
function scoringParams() {
  const p = new URLSearchParams();
  const m = $('method').value;
  if (m.startsWith('bank:')) { p.set('bank', m.slice(5)); return p; }
  if (m !== 'default') p.set('method', m);
  if (adjectivesApply()) {
    const pos = $('positive').value.trim(), neg = $('negative').value.trim();
    if (pos) p.set('positive', pos);
    if (neg) p.set('negative', neg);
  }
  return p;
}

function bankLabel(b) {
  const what = b.method === 'head' ? `head “${b.head}”` : `${b.method}${b.n_classes ? `, ${b.n_classes} classes` : ''}`;
  return `Bank “${b.name}” (${what})`;
}

async function fetchInfo() {
  const r = await api('/api/info');
  return r.json();
}

// "Building bank X: i of n prompts" while the server makes one (at start-up, or for a
// request); polled every second until it is done.
function showBuilding(b) {
  const el = $('server-status');
  el.hidden = !b;
  el.textContent = b ? `The server is building bank ${b.bank} (${b.n_classes ? `${b.n_classes} classes, ` : ''}`
    + `${b.total ? `${b.done} of ${b.total} prompts` : 'starting'})${b.queued ? `, ${b.queued} more waiting` : ''}: `
    + 'scores that need it come when it is ready.' : '';
}

function pollBuilding() {
  if (state.polling) return;
  state.polling = setInterval(async () => {
    let info = null;
    try { info = await fetchInfo(); } catch (e) { /* the next tick tries again */ }
    if (!info) return;
    showBuilding(info.building);
    if (!info.building && state.busy === 0) { clearInterval(state.polling); state.polling = null; }
  }, 1000);
}

async function loadInfo() {
  try {
    const info = await fetchInfo();
    $('model-line').textContent = `Model: ${info.model.name} (${info.model.embed_dim}-d embeddings), aesthete ${info.version}`;
    state.maxBytes = info.limits.max_upload_bytes;
    state.defaults = info.defaults;
    $('max-mb').textContent = $('cull-max-mb').textContent = Math.round(state.maxBytes / 1048576);
    // LAION only where the model has a head for it
    const sel = $('method');
    for (const [m, text] of [['laion', 'LAION aesthetic predictor'], ['laion-v2', 'LAION aesthetic predictor V2']]) {
      if (!info.methods.includes(m) || [...sel.options].some((o) => o.value === m)) continue;
      const opt = document.createElement('option');
      opt.value = m;
      opt.textContent = text;
      sel.appendChild(opt);
    }
    for (const b of info.banks) {
      state.banks.set(b.id, b);
      if (b.default) {
        state.defaultBank = b;
        sel.options[0].textContent = `Server default: ${describe(b)}`;
      }
      if (b.loaded && !b.default) addBankOption(b.id, bankLabel(b), false);
    }
    showBuilding(info.building);
    if (info.building) pollBuilding();
  } catch (e) {
    $('model-line').textContent = 'The server did not answer /api/info.';
  }
  updateScoringLine();
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
  updateScoringLine();
}

function updateProgress() {
  const total = state.items.length;
  const done = state.items.filter((it) => !it.pending).length;
  const failed = state.items.filter((it) => it.error).length;
  const bar = $('progress');
  if (state.busy > 0) {
    bar.hidden = false;
    bar.max = Math.max(total, 1);
    bar.value = done;
    setStatus(`Scoring… ${done} of ${total}`);
  } else {
    bar.hidden = true;
    const scored = total - failed;
    setStatus(!total ? '' : failed
      ? `${scored} of ${total} image${total > 1 ? 's' : ''} scored; ${failed} not scored (the images are kept: see the cards, then Score again).`
      : `${total} image${total > 1 ? 's' : ''} scored.`);
  }
  $('rescore').disabled = total === 0 || state.busy > 0;
  $('clear').disabled = total === 0;
}

// The score against the range of the images shown: the bar runs from the lowest score
// (a sliver) to the highest (full); its colour follows the same position.
function scoreBar(result, lo, hi) {
  const f = hi > lo ? (result.score - lo) / (hi - lo) : 1;
  const span = document.createElement('span');
  span.style.width = `${(4 + 96 * f).toFixed(1)}%`;
  span.style.background = `hsl(${Math.round(f * 120)}, 60%, 42%)`;
  const bar = document.createElement('div');
  bar.className = 'bar';
  bar.dataset.fraction = f.toFixed(4);
  bar.setAttribute('role', 'img');
  bar.setAttribute('aria-label', `score ${fmt(result.score, 3)}, ${Math.round(f * 100)} percent of the way from the lowest (${fmt(lo, 3)}) to the highest (${fmt(hi, 3)}) of the images shown`);
  bar.appendChild(span);
  return bar;
}

// One line on what the scores mean, for the method that made them.
function scoreHelp(r) {
  if (r.method === 'head') {
    return `Scores of head “${r.head}”: higher means more to your taste${r.probability !== null ? '; probability: how likely you would like the image' : ''}.`;
  }
  if (r.method === 'laion' || r.method === 'laion-v2') return 'Scores of the LAION aesthetic predictor: a rating of about 1 (poor) to 10 (excellent).';
  return `Score: how much closer CLIP puts the image to “${r.positive}” than to “${r.negative}” (above 0: good). `
    + 'Probability: how sure CLIP is of that.';
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
  const waiting = state.items.filter((it) => !it.result);
  const lo = scored.length ? scored[scored.length - 1].result.score : 0, hi = scored.length ? scored[0].result.score : 0;
  list.textContent = '';
  [...scored, ...waiting].forEach((it, i) => {
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
    name.title = it.file.name;
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
      li.appendChild(scoreBar(r, lo, hi));
      const dl = document.createElement('dl');
      dl.className = 'facts';
      fact(dl, 'Score', fmt(r.score, 3), 'num');
      fact(dl, 'Probability', pct(r.probability), 'num');
      fact(dl, 'Label', r.label, r.label === 'good' ? 'label-good' : 'label-bad');
      fact(dl, 'Class', r.class === null ? '—' : r.class);
      fact(dl, 'Scored by', describe(r));
      li.appendChild(dl);
      li.appendChild(thumbs(it));
    } else if (it.error) {
      li.classList.add('failed');
      const p = document.createElement('p');
      p.className = 'card-error';
      p.setAttribute('role', 'alert');
      p.textContent = `Not scored: ${it.error}`;
      li.appendChild(p);
    } else {
      li.classList.add('pending');
      const p = document.createElement('p');
      p.className = 'hint';
      p.textContent = 'scoring…';
      li.appendChild(p);
    }
    list.appendChild(li);
  });
  const any = state.items.length > 0;
  $('empty').hidden = any;
  $('add-more').hidden = !any;
  // once there are images, the comparison comes first in the view (above the upload panel)
  $('view-rank').classList.toggle('has-results', any || $('rejected').children.length > 0);
  const help = $('score-help'), range = $('score-range');
  help.hidden = range.hidden = !scored.length;
  if (scored.length) {
    help.textContent = scoreHelp(scored[0].result);
    range.textContent = '';
    const part = (field, text) => { const b = document.createElement('b'); b.dataset.field = field; b.textContent = text; return b; };
    range.append(`${scored.length} image${scored.length > 1 ? 's' : ''}: scores from `, part('low', fmt(lo, 3)),
      ' (lowest) to ', part('high', fmt(hi, 3)), ' (highest); the bars place each in that range.');
  }
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
    const r = await api('/api/head', {
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
      state.banks.set(j.id, { id: j.id, name: j.name, method: 'head', head: j.name, kind: j.kind });
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

// Sends a class list to /api/bank; the answer (or {error}) and its status.
async function postList(list) {
  const body = new FormData();
  body.append('classes', list.file, list.file.name);
  for (const [k, v] of Object.entries(list.fields)) body.append(k, v);
  const r = await api('/api/bank', { method: 'POST', body });
  return { status: r.status, j: await r.json() };
}

// A bank made here from a class list that the server no longer has (restarted, or evicted
// from its list of banks): built again from the same file, once for all the waiting images.
// `sentAt` is the number of rebuilds of that bank done when the failing request was sent: an
// "unknown bank" answer to a request sent before the last rebuild finished is stale, and the
// request is only sent again (a slow server answers the other images' requests after it).
function rebuild(id, sentAt) {
  const list = state.lists.get(id);
  if (!list) return Promise.resolve(false);
  const done = state.rebuilds.get(id) || 0;
  if (done > sentAt) return Promise.resolve(true);
  if (!state.rebuilding.has(id)) {
    state.rebuilding.set(id, postList(list).then(({ status, j }) => status === 200 && j.id === id).catch(() => false)
      .then((ok) => { if (ok) state.rebuilds.set(id, done + 1); return ok; })
      .finally(() => state.rebuilding.delete(id)));
  }
  return state.rebuilding.get(id);
}

// Scores one image. A failure that is about the file itself (not an image, too large) on an
// image never scored removes it with the server's message; any other failure (the server
// restarted or forgot the bank, a method it cannot do, busy, unreachable) keeps the image
// and shows the message on its card.
async function scoreOne(it, generation) {
  const params = scoringParams();
  if (!it.embedding) params.set('embedding', '1'); // kept for "train my taste"
  let rebuilt = false;
  for (let attempt = 0; attempt < 5; attempt++) {
    const body = new FormData();
    body.append('file', it.file, it.file.name);
    let r, j;
    const sentAt = state.rebuilds.get(params.get('bank')) || 0;
    try {
      r = await api('/api/score?' + params.toString(), { method: 'POST', body });
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
    if (r.status === 400 && !rebuilt && params.has('bank') && /^unknown bank/.test(j.error || '')) {
      rebuilt = true;
      if (await rebuild(params.get('bank'), sentAt)) continue;
      if (generation !== state.generation) return;
    }
    if (r.status === 200) {
      if (j.embedding) { it.embedding = j.embedding; delete j.embedding; }
      it.result = j;
      it.error = null;
      it.scored = true;
    } else {
      const msg = j.error || `HTTP ${r.status}`;
      const aboutFile = r.status === 415 || r.status === 413 || msg.startsWith(`${it.file.name}:`);
      if (aboutFile && !it.scored) {
        reject(it.file.name, msg);
        removeItem(it);
      } else {
        it.result = null;
        it.error = msg;
      }
    }
    it.pending = false;
    return;
  }
}

// The results in view when the first of a batch arrives: the comparison is first in the
// view, so on a wide screen they are; on a phone (or a page scrolled away) the first card is
// scrolled to.
function revealResults() {
  const first = document.querySelector('#results li.card');
  if (!first) return;
  const top = first.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight * 0.6) first.scrollIntoView({ block: 'start' });
}

async function scoreItems(items) {
  const generation = state.generation;
  items.forEach((it) => { it.pending = true; it.result = null; it.error = null; });
  state.busy++;
  render();
  pollBuilding();
  let revealed = false;
  const queue = items.slice();
  const worker = async () => {
    while (queue.length) {
      const it = queue.shift();
      await scoreOne(it, generation);
      if (generation !== state.generation) continue;
      render();
      if (!revealed && state.items.some((x) => x.result || x.error)) { revealed = true; revealResults(); }
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
  else render();
}

async function buildBank() {
  const file = $('classes').files[0];
  const out = $('bank-status');
  if (!file) { out.textContent = 'Choose a class list file first.'; return; }
  const fields = { method: $('bank-method').value };
  if ($('column').value.trim()) fields.column = $('column').value.trim();
  if ($('header').checked) fields.header = '1';
  const pos = $('positive').value.trim(), neg = $('negative').value.trim();
  if (pos) fields.positive = pos;
  if (neg) fields.negative = neg;
  out.textContent = 'Building the bank…';
  $('build').disabled = true;
  pollBuilding();
  try {
    const list = { file, fields };
    const { status, j } = await postList(list);
    if (status !== 200) {
      out.textContent = `Rejected: ${j.error}`;
    } else {
      state.lists.set(j.id, list);
      state.banks.set(j.id, { id: j.id, name: j.name, method: j.method, classes: j.name, n_classes: j.n_classes,
        positive: j.positive, negative: j.negative, kind: 'prompts' });
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
  updateScoringLine();
  if (!state.items.length) return;
  state.generation++;
  state.busy = 0;
  scoreItems(state.items.slice());
}

// ---- Cull: groups of copies and bursts, one keeper each (/api/cull) ----

const KIND_TEXT = { exact: 'Exact duplicates', near: 'Near-duplicates', burst: 'Burst' };
const MATCH_TEXT = { bytes: 'identical bytes', pixels: 'identical pixels' };

// The chosen scoring, in words (the Rank view's method and adjectives).
function scoringName() { return describe(chosen()); }

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
    r = await api('/api/cull?' + params.toString(), { method: 'POST', body, signal: controller.signal });
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
  $('positive').addEventListener('input', updateScoringLine);
  $('negative').addEventListener('input', updateScoringLine);
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
