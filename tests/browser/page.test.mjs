// page.test.mjs — the aesthete serve web page in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core). Run by tests/test_browser.sh, which starts the server.
//   AE_URL        the server, e.g. http://127.0.0.1:PORT
//   AE_FIXTURES   the fixtures folder (images/)
//   AE_ARTIFACTS  where the screenshot goes
//   AE_TMP        a scratch folder
// Checks: the page loads from the server alone (no outside request, no console error); the
// first Tab stop is the Rank tab, the next the file picker; two images uploaded with the
// picker show the same scores
// as the JSON API, sorted best first with the best marked; the width slider (by keyboard)
// resizes the images; a text file renamed .jpg is rejected with the server's message; a class
// list builds a bank and the images are scored again with it (same as the API); nothing is
// wider than a phone screen; a file dropped on the drop zone is scored; thumbs up/down on
// four images train a head in the session that then scores them (as the API does with its
// id) and downloads as a head file. Screenshots: serve-page.png, serve-page-phone.png,
// serve-page-taste.png.
import { chromium } from 'playwright-core';
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
// a fresh profile; playwright passes it to chromium as --user-data-dir
const context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(tmp, 'profile-')), {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1100, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = context.pages()[0] || await context.newPage();
  const outside = [];
  page.on('request', (req) => { if (!req.url().startsWith(base) && !req.url().startsWith('blob:') && !req.url().startsWith('data:')) outside.push(req.url()); });
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await page.goto(base + '/');
  await page.waitForFunction(() => document.getElementById('model-line').textContent.startsWith('Model:'));
  check((await page.textContent('#model-line')).includes('tiny-quickgelu'), 'model line names the model');

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
    label: e.querySelector('dd[data-field=label]').textContent,
    best: e.classList.contains('best'),
    badge: !!e.querySelector('.badge'),
  })));
  check(cards.length === 2, `two cards (got ${cards.length})`);
  for (const c of cards) {
    const a = api[c.file];
    check(a && Number(c.score) === a.score, `${c.file}: page score ${c.score} equals API score ${a && a.score}`);
    check(a && c.shown === a.score.toFixed(3), `${c.file}: shown "${c.shown}" equals ${a && a.score.toFixed(3)}`);
    check(a && c.prob === a.probability.toFixed(4), `${c.file}: probability "${c.prob}"`);
    check(a && c.label === a.label, `${c.file}: label "${c.label}"`);
  }
  const bestFile = Object.keys(api).sort((x, y) => api[y].score - api[x].score)[0];
  check(cards[0].file === bestFile && cards[0].best && cards[0].badge, `first card is the best (${bestFile}) and marked`);
  check(!cards[1].best && !cards[1].badge, 'second card is not marked best');
  console.log(`scores: ${cards.map((c) => `${c.file}=${c.score}`).join(', ')}`);

  // the width slider, by keyboard
  const width = async () => (await page.locator('#results li.card img').first().boundingBox()).width;
  const w0 = await width();
  await page.focus('#width');
  await page.keyboard.press('End');
  await page.waitForTimeout(100);
  const w1 = await width();
  check(Math.abs(w0 - 300) < 2 && Math.abs(w1 - 800) < 2, `slider resizes images: ${w0} -> ${w1} px`);
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

  const shot = path.join(artifacts, 'serve-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  // a phone screen: nothing wider than the viewport
  await page.setViewportSize({ width: 390, height: 844 });
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

  // "train my taste": a fourth image, two liked and two disliked, a head trained in the
  // session and used for the next scores (the same as the API with bank=ID), downloadable
  await page.setViewportSize({ width: 1100, height: 900 });
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
  await page.waitForFunction(() => [...document.querySelectorAll('#results dd[data-field=method]')].filter((d) => d.textContent.startsWith('head')).length === 4, null, { timeout: 30000 });
  for (const f of ['photo_boats.jpg', 'photo_rocket.jpg'].map((n) => path.join(fixtures, 'images', n))) {
    const r = await fetch(`${base}/api/score?head=${headValue.slice(5)}`, { method: 'POST', body: fs.readFileSync(f), headers: { 'Content-Type': 'image/jpeg' } });
    const a = await r.json();
    const shown = await page.$eval(`#results li.card[data-file="${path.basename(f)}"]`, (e) => e.dataset.score);
    check(r.status === 200 && Number(shown) === a.score && a.head === 'browser taste', `${path.basename(f)} with the trained head: page ${shown} vs API ${a.score} (${a.head})`);
  }
  const methods = await page.$$eval('#results dd[data-field=method]', (els) => els.map((d) => d.textContent));
  check(methods.every((m) => m === 'head (browser taste)'), `cards name the trained head, not its id: ${methods.join(', ')}`);
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

  check(outside.length === 0, `no requests outside the server: ${outside.join(' ')}`);
  check(consoleErrors.filter((e) => !e.includes('415')).length === 0, `no console errors: ${consoleErrors.join(' | ')}`);
} catch (e) {
  failed++;
  console.error(`FAIL: ${e.stack || e}`);
} finally {
  await context.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
