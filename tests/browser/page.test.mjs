// page.test.mjs — the aesthete serve web page in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core). Run by tests/test_browser.sh, which starts the server.
//   AE_URL        the server, e.g. http://127.0.0.1:PORT
//   AE_FIXTURES   the fixtures folder (images/)
//   AE_ARTIFACTS  where the screenshot goes
//   AE_TMP        a scratch folder
// Checks: the page loads from the server alone (no outside request, no console error but the
// failures provoked below); the first Tab stop is the Rank tab, the next the file picker; two
// images uploaded with the picker show the same scores
// as the JSON API, sorted best first with the best marked; the width slider (by keyboard)
// resizes the images; a text file renamed .jpg is rejected with the server's message; a class
// list builds a bank and the images are scored again with it (same as the API); nothing is
// wider than a phone screen; a file dropped on the drop zone is scored; thumbs up/down on
// four images train a head in the session that then scores them (as the API does with its
// id) and downloads as a head file. Cull view: ArrowRight on the Rank tab switches to it; the
// boats, a byte-identical copy, the rocket and the text file culled with the chosen scoring
// show one exact group (identical bytes) with one keeper marked "✓ Keep" and the copy greyed
// as a reject with the server's reason, the rocket as a single, the text file as an error with
// the server's message, and the same files, roles, groups and summary as the API; keep-by
// "size" culls again (one new request carrying the four files) and still matches the API; a
// similarity of 2 is not sent; a 503 ({"error":"busy"}, the server's shape) and a failed request are
// shown in the status line while the images, groups and errors stay; each view keeps its
// state across switches; no horizontal scrolling at 390 px. Screenshots: serve-page.png,
// serve-page-phone.png, serve-page-taste.png, serve-page-cull.png, serve-page-cull-phone.png.
import { launch } from './launch.mjs';
import fs from 'node:fs';
import path from 'node:path';

const base = process.env.AE_URL;
const fixtures = process.env.AE_FIXTURES;
const artifacts = process.env.AE_ARTIFACTS || '.';
const tmp = process.env.AE_TMP || fs.mkdtempSync('/tmp/ae-browser-');
let failed = 0, passed = 0;

function check(cond, what) {
  if (cond) { passed++; return; }
  failed++;
  console.error(`FAIL: ${what}`);
}

async function apiScore(file) {
  const body = fs.readFileSync(file);
  const r = await fetch(`${base}/api/score`, { method: 'POST', body, headers: { 'Content-Type': 'image/jpeg' } });
  check(r.status === 200, `API status for ${file}: ${r.status}`);
  return r.json();
}

const images = ['photo_boats.jpg', 'photo_rocket.jpg'].map((n) => path.join(fixtures, 'images', n));
const context = await launch(tmp, 'profile');
try {
  const page = context.pages()[0] || await context.newPage();
  const outside = [];
  page.on('request', (req) => { if (!req.url().startsWith(base) && !req.url().startsWith('blob:') && !req.url().startsWith('data:')) outside.push(req.url()); });
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  // the server building a bank (as at start-up on a full-size model): said in the header,
  // polled until done (the first answer is made up, the next ones are the server's)
  const building = { bank: 'ensemble', method: 'ensemble', n_classes: 1000, done: 512, total: 2000, queued: 1 };
  await page.route('**/api/info', async (route) => {
    const real = await (await fetch(`${base}/api/info`)).json();
    route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ ...real, building }) });
  }, { times: 1 });
  await page.goto(base + '/');
  await page.waitForFunction(() => document.getElementById('model-line').textContent.startsWith('Model:'));
  check((await page.textContent('#model-line')).includes('tiny-quickgelu'), 'model line names the model');
  const buildingText = await page.textContent('#server-status');
  check(await page.isVisible('#server-status') && buildingText.includes('building bank ensemble (1000 classes, 512 of 2000 prompts), 1 more waiting'),
    `the bank being built is shown: "${buildingText}"`);
  await page.waitForFunction(() => document.getElementById('server-status').hidden, null, { timeout: 10000 });
  check(true, 'the building line goes once the server says it is done');

  // what is scored, said before anything is: the server default (fixed prompts here); LAION
  // is offered only when /api/info lists it (no LAION head fits the tiny model)
  const info = await (await fetch(`${base}/api/info`)).json();
  const offered = await page.$$eval('#method option', (os) => os.map((o) => o.value));
  check(['laion', 'laion-v2'].every((m) => offered.includes(m) === info.methods.includes(m)) && !offered.includes('laion'),
    `LAION offered only when the model has a head: options ${offered.join(', ')}; methods ${info.methods.join(', ')}`);
  check((await page.textContent('#scoring-line')) === 'Scoring with: fixed prompts, “outstanding” vs “horrible”',
    `the header says what scores: "${await page.textContent('#scoring-line')}"`);
  check((await page.textContent('#method option[value=default]')) === 'Server default: fixed prompts, “outstanding” vs “horrible”',
    'the default option says what the default is');

  // keyboard: the first Tab stop is the selected view's tab (Rank), the next the file picker,
  // which has a visible label
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement && document.activeElement.id === 'tab-rank'), 'Tab reaches the Rank tab first');
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement && document.activeElement.id === 'files'), 'Tab reaches the file picker next');

  // two images through the file picker
  await page.setInputFiles('#files', images);
  await page.waitForFunction(() => document.querySelectorAll('#results li.card[data-score]').length === 2, null, { timeout: 30000 });
  const api = {};
  for (const f of images) api[path.basename(f)] = await apiScore(f);
  const cards = await page.$$eval('#results li.card', (els) => els.map((e) => ({
    file: e.dataset.file,
    score: e.dataset.score,
    shown: e.querySelector('dd[data-field=score]').textContent,
    prob: e.querySelector('dd[data-field=probability]').textContent,
    by: e.querySelector('dd[data-field="scored by"]').textContent,
    bar: Number(e.querySelector('.bar').dataset.fraction),
    label: e.querySelector('dd[data-field=label]').textContent,
    best: e.classList.contains('best'),
    badge: !!e.querySelector('.badge'),
  })));
  check(cards.length === 2, `two cards (got ${cards.length})`);
  for (const c of cards) {
    const a = api[c.file];
    check(a && Number(c.score) === a.score, `${c.file}: page score ${c.score} equals API score ${a && a.score}`);
    check(a && c.shown === a.score.toFixed(3), `${c.file}: shown "${c.shown}" equals ${a && a.score.toFixed(3)}`);
    check(a && c.prob === `${(a.probability * 100).toFixed(1)}%`, `${c.file}: probability as a percentage "${c.prob}"`);
    check(c.by === 'fixed prompts, “outstanding” vs “horrible”', `${c.file}: scored by "${c.by}"`);
    check(a && c.label === a.label, `${c.file}: label "${c.label}"`);
  }
  const bestFile = Object.keys(api).sort((x, y) => api[y].score - api[x].score)[0];
  check(cards[0].file === bestFile && cards[0].best && cards[0].badge, `first card is the best (${bestFile}) and marked`);
  check(!cards[1].best && !cards[1].badge, 'second card is not marked best');
  // the scores against their range, and what they mean
  check(cards[0].bar === 1 && cards[1].bar === 0, `bars from the lowest to the highest score: ${cards.map((c) => c.bar)}`);
  const lo = Math.min(...Object.values(api).map((a) => a.score)), hi = Math.max(...Object.values(api).map((a) => a.score));
  const range = await page.evaluate(() => ({ text: document.getElementById('score-range').textContent,
    low: document.querySelector('#score-range [data-field=low]').textContent, high: document.querySelector('#score-range [data-field=high]').textContent }));
  check(range.low === lo.toFixed(3) && range.high === hi.toFixed(3) && range.text.startsWith('2 images: scores from '),
    `the range of the images shown: "${range.text}"`);
  const help = await page.textContent('#score-help');
  check(help === 'Score: how much closer CLIP puts the image to “outstanding” than to “horrible” (above 0: good). Probability: how sure CLIP is of that.',
    `one line explains the score: "${help}"`);
  // at 1280 x 800 the results are in view without scrolling once they arrive
  const inView = async (what, height) => {
    const box = await page.locator('#results li.card').first().boundingBox();
    const y = await page.evaluate(() => window.scrollY);
    check(box && box.y + y >= 0 && box.y < height - 100 && box.y >= 0,
      `${what}: the first result is in view (top at ${box && box.y.toFixed(0)} px of ${height}, scrolled ${y})`);
  };
  await inView('1280 x 800', 800);
  console.log(`scores: ${cards.map((c) => `${c.file}=${c.score}`).join(', ')}`);

  // the width slider, by keyboard
  const width = async () => (await page.locator('#results li.card img').first().boundingBox()).width;
  const w0 = await width();
  await page.focus('#width');
  await page.keyboard.press('End');
  await page.waitForTimeout(100);
  const w1 = await width();
  check(Math.abs(w0 - 300) < 2 && Math.abs(w1 - 800) < 2, `slider resizes images: ${w0} -> ${w1} px`);
  // the narrowest cards: no number or word broken across lines (each word one box), numbers
  // in tabular figures on one line
  await page.fill('#width', '100');
  await page.waitForTimeout(100);
  const narrow = await page.evaluate(() => {
    const broken = [];
    for (const el of document.querySelectorAll('#results .facts dd, #results .name, #results .rank')) {
      const text = el.firstChild;
      if (!text || text.nodeType !== 3) continue;
      const re = /\S+/g;
      let m;
      while ((m = re.exec(text.data))) {
        const r = document.createRange();
        r.setStart(text, m.index);
        r.setEnd(text, m.index + m[0].length);
        const lines = new Set([...r.getClientRects()].filter((b) => b.width > 0).map((b) => Math.round(b.top)));
        if (lines.size > 1) broken.push(`${el.dataset.field || el.className}: "${m[0]}"`);
      }
    }
    const num = [...document.querySelectorAll('#results dd.num')].map((d) => {
      const cs = getComputedStyle(d);
      return `${cs.whiteSpace}/${cs.fontVariantNumeric}/${d.getClientRects().length}`;
    });
    return { broken, num, cardWidth: document.querySelector('#results li.card').getBoundingClientRect().width };
  });
  check(narrow.cardWidth < 130 && narrow.broken.length === 0, `${narrow.cardWidth} px cards: no word broken across lines (${narrow.broken.join(', ')})`);
  check(narrow.num.length === 4 && narrow.num.every((n) => n === 'nowrap/tabular-nums/1'), `numbers: nowrap, tabular (${narrow.num.join(' ')})`);
  await page.screenshot({ path: path.join(artifacts, 'serve-page-narrow.png') });
  await page.fill('#width', '360');
  await page.waitForTimeout(100);
  const w2 = await width();
  check(Math.abs(w2 - 360) < 2, `slider to 360: ${w2} px`);

  // a rejected file: text renamed .jpg
  const fake = path.join(tmp, 'notes.jpg');
  fs.writeFileSync(fake, 'this is a text file, not a JPEG\n'.repeat(10));
  await page.setInputFiles('#files', [fake]);
  await page.waitForSelector('#rejected li', { timeout: 20000 });
  const msg = await page.textContent('#rejected li');
  check(msg.includes('notes.jpg') && msg.includes('not an image'), `rejection message: "${msg}"`);
  await page.waitForFunction(() => document.querySelectorAll('#results li.card').length === 2);
  check((await page.textContent('#status')).includes('2 images scored'), 'status line after scoring');

  // an adjective typed with the server default: scored with the default's prompts and that
  // adjective, said on the cards and in the header
  await page.fill('#positive', 'beautiful');
  await page.press('#positive', 'Tab');
  check((await page.textContent('#scoring-line')) === 'Scoring with: fixed prompts, “beautiful” vs “horrible”', 'the header follows the adjective');
  await page.waitForFunction(() => [...document.querySelectorAll('#results dd[data-field="scored by"]')].filter((d) => d.textContent.includes('beautiful')).length === 2, null, { timeout: 30000 });
  {
    const r = await fetch(`${base}/api/score?positive=beautiful`, { method: 'POST', body: fs.readFileSync(images[0]), headers: { 'Content-Type': 'image/jpeg' } });
    const a = await r.json();
    const shown = await page.$eval('#results li.card[data-file="photo_boats.jpg"]', (e) => e.dataset.score);
    check(Number(shown) === a.score && a.positive === 'beautiful', `with "beautiful": page ${shown} vs API ${a.score}`);
  }
  await page.fill('#positive', '');
  await page.press('#positive', 'Tab');
  await page.waitForFunction(() => [...document.querySelectorAll('#results dd[data-field="scored by"]')].filter((d) => d.textContent.includes('outstanding')).length === 2, null, { timeout: 30000 });

  // a class list (TSV) builds a context bank in the session; the images are scored again with it
  await page.click('summary');
  await page.setInputFiles('#classes', [path.join(process.env.AE_SOURCE_DIR, 'tests/data/classlists/rooms.tsv')]);
  await page.click('#build');
  await page.waitForFunction(() => document.getElementById('bank-status').textContent.startsWith('Bank ready'), null, { timeout: 30000 });
  const bankValue = await page.inputValue('#method');
  check(bankValue.startsWith('bank:b-'), `the new bank is selected (${bankValue})`);
  await page.waitForFunction(() => [...document.querySelectorAll('#results dd[data-field=class]')].filter((d) => d.textContent !== '—').length === 2, null, { timeout: 30000 });
  for (const f of images) {
    const body = fs.readFileSync(f);
    const r = await fetch(`${base}/api/score?bank=${bankValue.slice(5)}`, { method: 'POST', body, headers: { 'Content-Type': 'image/jpeg' } });
    const a = await r.json();
    const shown = await page.$eval(`#results li.card[data-file="${path.basename(f)}"]`, (e) => [e.dataset.score, e.querySelector('dd[data-field=class]').textContent]);
    check(Number(shown[0]) === a.score && shown[1] === a.class, `${path.basename(f)} with the class list: page ${shown} vs API ${a.score} ${a.class}`);
  }
  // the bank fixes its prompts: the adjectives are disabled; cards and header name the list
  check(await page.isDisabled('#positive') && await page.isDisabled('#negative') && await page.isVisible('#adjectives-note'),
    'adjectives are disabled while a bank is chosen');
  const listed = 'context, 3 classes of rooms.tsv, “outstanding” vs “horrible”';
  const bys = await page.$$eval('#results dd[data-field="scored by"]', (els) => els.map((d) => d.textContent));
  check(bys.length === 2 && bys.every((b) => b === listed) && (await page.textContent('#scoring-line')) === `Scoring with: ${listed}`,
    `cards and header name the list and its class count, not an id: ${bys.join(' | ')}`);
  check(!bys.some((b) => /b-[0-9a-f]{16}/.test(b)), 'no internal bank id on the cards');

  // the server cannot be reached for a re-score (as when it restarted): the cards and their
  // images stay, each says why; once it answers again, they are scored again
  await page.route('**/api/score?*', (route) => route.abort());
  await page.click('#rescore');
  await page.waitForFunction(() => document.querySelectorAll('#results li.card.failed').length === 2, null, { timeout: 30000 });
  const failedCards = await page.$$eval('#results li.card', (els) => els.map((e) => ({ file: e.dataset.file,
    img: e.querySelector('img').src.startsWith('blob:') && e.querySelector('img').naturalWidth > 0,
    error: e.querySelector('.card-error') && e.querySelector('.card-error').textContent })));
  check(failedCards.length === 2 && failedCards.every((c) => c.img && c.error === 'Not scored: the server could not be reached'),
    `a failed re-score keeps the images with the error on each card: ${JSON.stringify(failedCards)}`);
  check((await page.textContent('#status')).startsWith('0 of 2 images scored; 2 not scored'), `status after the failure: "${await page.textContent('#status')}"`);
  await page.unroute('**/api/score?*');
  await page.click('#rescore');
  await page.waitForFunction(() => document.querySelectorAll('#results li.card[data-score]').length === 2, null, { timeout: 30000 });
  check(await page.$$eval('#results li.card.failed', (els) => els.length) === 0, 'scored again once the server answers');

  const shot = path.join(artifacts, 'serve-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  // a phone screen: nothing wider than the viewport
  await page.setViewportSize({ width: 390, height: 844 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(100);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  check(overflow <= 390, `no horizontal scrolling on a 390 px phone screen (page is ${overflow} px wide)`);
  await page.screenshot({ path: path.join(artifacts, 'serve-page-phone.png'), fullPage: true });
  // drag and drop onto the drop zone (a synthetic drop carrying a real file)
  const gif = fs.readFileSync(path.join(fixtures, 'images', 'photo_coffee.gif')).toString('base64');
  await page.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'dropped.gif', { type: 'image/gif' }));
    const zone = document.getElementById('drop');
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, gif);
  await page.waitForFunction(() => document.querySelectorAll('#results li.card[data-score]').length === 3, null, { timeout: 30000 });
  check(await page.$('#results li.card[data-file="dropped.gif"][data-score]') !== null, 'a dropped file is scored');
  // on the phone the results come into view when they arrive
  await inView('390 x 844', 844);
  await page.screenshot({ path: path.join(artifacts, 'serve-page-phone-results.png') });

  // "train my taste": a fourth image, two liked and two disliked, a head trained in the
  // session and used for the next scores (the same as the API with bank=ID), downloadable
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.setInputFiles('#files', [path.join(fixtures, 'images', 'photo_ladybird.jpg')]);
  await page.waitForFunction(() => document.querySelectorAll('#results li.card[data-score]').length === 4, null, { timeout: 30000 });
  check(await page.isDisabled('#train'), 'training is offered only with 2 liked and 2 disliked images');
  const like = { 'photo_boats.jpg': 'up', 'photo_ladybird.jpg': 'up', 'photo_rocket.jpg': 'down', 'dropped.gif': 'down' };
  for (const [file, side] of Object.entries(like)) await page.click(`#results li.card[data-file="${file}"] .thumbs button.${side}`);
  const pressed = await page.$$eval('#results .thumbs button[aria-pressed=true]', (els) => els.length);
  check(pressed === 4, `four thumbs pressed (got ${pressed})`);
  check(!(await page.isDisabled('#train')), 'training is offered once 2 of each are marked');
  await page.fill('#taste-name', 'browser taste');
  await page.click('#train');
  await page.waitForFunction(() => document.getElementById('taste-status').textContent.startsWith('Trained'), null, { timeout: 30000 });
  const taste = await page.textContent('#taste-status');
  check(taste.includes('2 liked and 2 disliked'), `training status: "${taste}"`);
  const headValue = await page.inputValue('#method');
  check(headValue.startsWith('bank:h-'), `the trained head is selected (${headValue})`);
  await page.waitForFunction(() => [...document.querySelectorAll('#results dd[data-field="scored by"]')].filter((d) => d.textContent.startsWith('head')).length === 4, null, { timeout: 30000 });
  for (const f of ['photo_boats.jpg', 'photo_rocket.jpg'].map((n) => path.join(fixtures, 'images', n))) {
    const r = await fetch(`${base}/api/score?head=${headValue.slice(5)}`, { method: 'POST', body: fs.readFileSync(f), headers: { 'Content-Type': 'image/jpeg' } });
    const a = await r.json();
    const shown = await page.$eval(`#results li.card[data-file="${path.basename(f)}"]`, (e) => e.dataset.score);
    check(r.status === 200 && Number(shown) === a.score && a.head === 'browser taste', `${path.basename(f)} with the trained head: page ${shown} vs API ${a.score} (${a.head})`);
  }
  const methods = await page.$$eval('#results dd[data-field="scored by"]', (els) => els.map((d) => d.textContent));
  check(methods.every((m) => m === 'head “browser taste”'), `cards name the trained head, not its id: ${methods.join(', ')}`);
  check(await page.isDisabled('#positive'), 'adjectives are disabled while a head is chosen');
  // the labels stay on the cards after scoring again
  check(await page.$$eval('#results .thumbs button[aria-pressed=true]', (els) => els.length) === 4, 'labels kept after re-scoring');
  const href = await page.getAttribute('#taste-download', 'href');
  check(href && href.startsWith('/api/head?id=h-') && !(await page.isHidden('#taste-download')), `download link: ${href}`);
  const dl = await fetch(base + href);
  const bytes = new Uint8Array(await dl.arrayBuffer());
  const hdr = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const meta = new TextDecoder().decode(bytes.slice(8, 8 + hdr));
  check(dl.status === 200 && meta.includes('aesthete-head/1') && meta.includes('browser taste'), `the head downloads as safetensors (${dl.status}, ${bytes.length} bytes)`);
  await page.screenshot({ path: path.join(artifacts, 'serve-page-taste.png'), fullPage: true });

  // ---- the cull view: the Rank / Cull switch by keyboard, then four files culled together ----
  const cullRequests = [];
  page.on('request', (req) => { if (req.url().startsWith(`${base}/api/cull`)) cullRequests.push(req); });
  await page.focus('#tab-rank');
  await page.keyboard.press('ArrowRight');
  const tabs = await page.evaluate(() => ({
    cull: document.getElementById('tab-cull').getAttribute('aria-selected'),
    rank: document.getElementById('tab-rank').getAttribute('aria-selected'),
    focus: document.activeElement.id,
    rankHidden: document.getElementById('view-rank').hidden,
    cullHidden: document.getElementById('view-cull').hidden,
  }));
  check(tabs.cull === 'true' && tabs.rank === 'false' && tabs.focus === 'tab-cull' && tabs.rankHidden && !tabs.cullHidden,
    `ArrowRight on the Rank tab selects and shows Cull: ${JSON.stringify(tabs)}`);
  check((await page.textContent('#cull-method')).includes('browser taste'), 'the cull view names the chosen scoring (the trained head)');

  const copy = path.join(tmp, 'boats-copy.jpg');
  fs.copyFileSync(images[0], copy);
  const cullFiles = [images[0], copy, images[1], fake];
  await page.setInputFiles('#cull-files', cullFiles);
  const culled = () => page.waitForFunction(() => document.getElementById('cull-status').textContent.startsWith('Culled')
    && document.getElementById('cull-progress').hidden, null, { timeout: 30000 });
  await culled();
  check(cullRequests.length === 1 && cullRequests[0].url().includes(`bank=${headValue.slice(5)}`),
    `one request to /api/cull with the chosen scoring: ${cullRequests.map((r) => r.url()).join(' ')}`);

  // the same files straight to the API, with the same query
  async function apiCull(query) {
    const body = new FormData();
    for (const f of cullFiles) body.append('file', new Blob([fs.readFileSync(f)]), path.basename(f));
    const r = await fetch(`${base}/api/cull?${query}`, { method: 'POST', body });
    check(r.status === 200, `API cull status ${r.status}`);
    return r.json();
  }
  // what the page shows: each card's file, role and group, in order; the summary numbers
  const shownCull = () => page.evaluate(() => ({
    rows: [...document.querySelectorAll('#cull-groups .cull-card, #cull-singles .cull-card')].map((c) => {
      const g = c.closest('li.group');
      return { file: c.dataset.file, role: c.dataset.role, group: g ? Number(g.dataset.group) : null };
    }),
    summary: Object.fromEntries([...document.querySelectorAll('#cull-summary [data-field]')].map((s) => [s.dataset.field, Number(s.dataset.value)])),
    summaryText: document.getElementById('cull-summary').textContent,
  }));
  const sameAsApi = async (query, what) => {
    const a = await apiCull(query);
    const s = await shownCull();
    const want = a.results.map((r) => ({ file: r.file, role: r.role, group: r.group }));
    check(JSON.stringify(s.rows) === JSON.stringify(want), `${what}: page ${JSON.stringify(s.rows)} equals API ${JSON.stringify(want)}`);
    check(JSON.stringify(s.summary) === JSON.stringify(Object.fromEntries(Object.keys(s.summary).map((k) => [k, a.summary[k]])))
      && Object.keys(s.summary).length === 7, `${what}: summary ${JSON.stringify(s.summary)} equals API ${JSON.stringify(a.summary)}`);
    return { a, s };
  };
  const cullQuery = new URL(cullRequests[0].url()).searchParams.toString();
  const { a: api1, s: shown1 } = await sameAsApi(cullQuery, 'cull');
  check(api1.summary.images === 3 && api1.summary.groups === 1 && api1.summary.exact === 1 && api1.summary.rejects === 1
    && api1.summary.singles === 1, `API summary of the four files: ${JSON.stringify(api1.summary)}`);
  check(/^3 images: 1 group \(1 exact, 0 near-duplicate, 0 burst\), 1 reject, 1 single; 1 file not read\. Kept by score/.test(shown1.summaryText),
    `summary line: "${shown1.summaryText}"`);

  const group = await page.evaluate(() => [...document.querySelectorAll('#cull-groups li.group')].map((g) => ({
    kind: g.dataset.kind,
    heading: g.querySelector('h3').textContent,
    match: g.querySelector('.match') && g.querySelector('.match').dataset.match,
    cards: [...g.querySelectorAll('.cull-card')].map((c) => ({
      file: c.dataset.file,
      role: c.dataset.role,
      tag: c.querySelector('.role') && c.querySelector('.role').textContent,
      reason: c.querySelector('.reason') && c.querySelector('.reason').textContent,
      grey: getComputedStyle(c.querySelector('img')).filter,
      img: c.querySelector('img').src.startsWith('blob:'),
    })),
  })));
  check(group.length === 1, `one group (got ${group.length})`);
  const g1 = group[0] || { cards: [] };
  check(g1.kind === 'exact' && g1.match === 'bytes' && g1.heading.includes('Exact duplicates') && g1.heading.includes('identical bytes'),
    `the group is exact, identical bytes: "${g1.heading}"`);
  check(JSON.stringify(g1.cards.map((c) => c.file).sort()) === JSON.stringify(['boats-copy.jpg', 'photo_boats.jpg']),
    `the group holds the boats and its copy: ${g1.cards.map((c) => c.file)}`);
  const keepers = g1.cards.filter((c) => c.role === 'keep'), rejects = g1.cards.filter((c) => c.role === 'reject');
  check(keepers.length === 1 && keepers[0].tag === '✓ Keep' && !keepers[0].reason && keepers[0].grey === 'none' && keepers[0].img,
    `exactly one keeper, marked "✓ Keep": ${JSON.stringify(keepers)}`);
  const apiReject = api1.results.find((r) => r.role === 'reject');
  check(rejects.length === 1 && rejects[0].tag === '✗ Reject' && rejects[0].grey.includes('grayscale') && rejects[0].img
    && apiReject && rejects[0].reason === apiReject.reason && rejects[0].reason.includes('the same bytes as'),
    `the other is greyed and rejected with the server's reason: ${JSON.stringify(rejects)}`);
  const single = await page.$$eval('#cull-singles .cull-card', (els) => els.map((e) => [e.dataset.file, e.dataset.role, !!e.querySelector('.role')]));
  check(JSON.stringify(single) === JSON.stringify([['photo_rocket.jpg', 'single', false]]) && await page.isVisible('#h-singles'),
    `the rocket is listed as a single: ${JSON.stringify(single)}`);
  const cullErr = await page.$$eval('#cull-errors li', (els) => els.map((e) => e.textContent));
  check(cullErr.length === 1 && api1.errors.length === 1 && cullErr[0] === api1.errors[0].error && cullErr[0].startsWith('notes.jpg: not an image'),
    `the text file is shown as an error with the server's message: ${JSON.stringify(cullErr)}`);

  // a setting changed: culled again with the images in memory (no new upload)
  await page.selectOption('#keep-by', 'size');
  await page.waitForFunction(() => document.getElementById('cull-summary').textContent.includes('Kept by size')
    && document.getElementById('cull-progress').hidden, null, { timeout: 30000 });
  const again = cullRequests[1];
  const sent = again ? Number((await again.allHeaders())["content-length"]) : 0;
  const fileBytes = cullFiles.reduce((n, f) => n + fs.statSync(f).size, 0);
  check(cullRequests.length === 2 && again.url().includes('keep_by=size') && sent > fileBytes && sent < fileBytes + 4096,
    `keep by size: one new request carrying the four files again (${cullRequests.length} requests, ${sent} bytes for ${fileBytes} of files, ${again && again.url()})`);
  const { s: bySize } = await sameAsApi(new URL(again.url()).searchParams.toString(), 'cull, keep by size');
  check(await page.$$eval('#cull-errors li', (els) => els.length) === 1, 'keep by size: the text file is reported again');

  // a similarity the server would reject is not sent
  await page.fill('#similar', '2');
  await page.press('#similar', 'Tab');
  await page.waitForFunction(() => document.getElementById('cull-status').classList.contains('error'));
  check(cullRequests.length === 2 && (await page.textContent('#cull-status')).includes('Near-duplicate similarity must be a number from 0.5 to 1'),
    `similarity 2: not sent, said so: "${await page.textContent('#cull-status')}"`);

  // failures: a 503 with the server's error shape, then no answer at all; the images and the
  // previous groups stay
  const busyError = 'busy';
  await page.route('**/api/cull?*', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: busyError }) }), { times: 1 });
  await page.fill('#similar', '0.9');
  await page.press('#similar', 'Tab');
  await page.waitForFunction(() => document.getElementById('cull-status').textContent.startsWith('Cull failed'), null, { timeout: 30000 });
  const failed1 = await page.textContent('#cull-status');
  const kept = await shownCull();
  const imgs = await page.$$eval('#view-cull .cull-card img', (els) => els.filter((i) => i.src.startsWith('blob:') && i.naturalWidth > 0).length);
  check(failed1.startsWith(`Cull failed: ${busyError}.`) && failed1.includes('previous result are kept') && await page.isVisible('#cull-status'),
    `a 503 is shown with the server's message: "${failed1}"`);
  check(cullRequests.length === 3 && JSON.stringify(kept.rows) === JSON.stringify(bySize.rows) && kept.rows.length === 3
    && kept.summaryText.includes('Kept by size') && imgs === 3 && await page.$$eval('#cull-errors li', (els) => els.length) === 1,
    `after the 503 the previous groups, images and error stay (${kept.rows.length} cards, ${imgs} images)`);
  await page.route('**/api/cull?*', (route) => route.abort(), { times: 1 });
  await page.click('#cull-again');
  await page.waitForFunction((prev) => document.getElementById('cull-status').textContent !== prev
    && document.getElementById('cull-status').textContent.startsWith('Cull failed'), failed1, { timeout: 30000 });
  const failed2 = await page.textContent('#cull-status');
  check(failed2.includes('the server could not be reached') && (await shownCull()).rows.length === 3, `no answer: "${failed2}"`);
  await page.click('#cull-again');
  await culled();
  check(cullRequests.length === 5 && !(await page.getAttribute('#cull-status', 'class') || '').includes('error')
    && (await page.textContent('#cull-summary')).includes('similarity ≥ 0.90'), 'culled again once the server answers');

  // switching views keeps each view's state; no new cull without a change
  await page.click('#tab-rank');
  check(await page.$$eval('#results li.card[data-score]', (els) => els.length) === 4 && await page.isHidden('#view-cull'),
    'back in Rank: its four cards are still there');
  await page.click('#tab-cull');
  check(cullRequests.length === 5 && (await shownCull()).rows.length === 3 && await page.inputValue('#keep-by') === 'size',
    'back in Cull: its groups and settings are still there, not culled again');

  await page.screenshot({ path: path.join(artifacts, 'serve-page-cull.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(100);
  const cullWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  check(cullWidth <= 390, `cull view: no horizontal scrolling on a 390 px phone screen (page is ${cullWidth} px wide)`);
  await page.screenshot({ path: path.join(artifacts, 'serve-page-cull-phone.png'), fullPage: true });

  // banks the server forgot (started with --max-banks 1: the trained head evicted the class
  // list's bank): the list is built again from the file the page kept, and the images
  // scored with it; then the head, evicted by that, fails with the server's message on every
  // card while the images stay
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.click('#tab-rank');
  // The other images' requests, sent before the list was built again, are answered (with the
  // server's "unknown bank") only after it was: those stale answers must not build it again.
  // Only those are held: route.fetch() sends a File body as empty (the server checks the bank
  // first, so its answer to them is still "unknown bank"); the requests sent after go on as
  // they are, body and all.
  const bankPosts = [];
  let bankBuilt;
  const built = new Promise((res) => { bankBuilt = res; });
  page.on('request', (req) => { if (req.url() === `${base}/api/bank`) bankPosts.push(req); });
  page.on('requestfinished', (req) => { if (req.url() === `${base}/api/bank`) setTimeout(bankBuilt, 200); });
  let scoreAnswers = 0;
  const holdStale = async (route) => {
    if (bankPosts.length > 0) return route.continue();
    const response = await route.fetch();
    if (scoreAnswers++ > 0) await built;
    return route.fulfill({ response });
  };
  await page.route('**/api/score?*', holdStale);
  await page.selectOption('#method', bankValue);
  await page.waitForFunction(() => [...document.querySelectorAll('#results dd[data-field="scored by"]')].filter((d) => d.textContent.includes('rooms.tsv')).length === 4, null, { timeout: 30000 });
  await page.unroute('**/api/score?*', holdStale);
  check(bankPosts.length === 1, `the forgotten list's bank is built again from the kept file (${bankPosts.length} POST /api/bank)`);
  check(await page.$$eval('#results li.card.failed', (els) => els.length) === 0, 'and the images are scored with it');
  await page.selectOption('#method', headValue);
  await page.waitForFunction(() => document.querySelectorAll('#results li.card.failed').length === 4, null, { timeout: 30000 });
  const evicted = await page.$$eval('#results li.card', (els) => els.map((e) => ({
    img: e.querySelector('img').src.startsWith('blob:') && e.querySelector('img').naturalWidth > 0,
    error: e.querySelector('.card-error') && e.querySelector('.card-error').textContent })));
  check(evicted.length === 4 && evicted.every((c) => c.img && c.error.startsWith(`Not scored: unknown bank '${headValue.slice(5)}'`)),
    `a forgotten head: the four images stay, each with the server's message: ${JSON.stringify(evicted[0])}`);
  await page.screenshot({ path: path.join(artifacts, 'serve-page-failed.png'), fullPage: true });

  check(outside.length === 0, `no requests outside the server: ${outside.join(' ')}`);
  check(consoleErrors.filter((e) => !e.includes('415') && !e.includes('503') && !e.includes('net::ERR_FAILED') && !e.includes('400')).length === 0, `no console errors: ${consoleErrors.join(' | ')}`);
} catch (e) {
  failed++;
  console.error(`FAIL: ${e.stack || e}`);
} finally {
  await context.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
