// access.test.mjs — the page of a server started with --auth-token, and another origin's
// page against a loopback server, in headless Chromium. Run by tests/test_browser.sh.
//   AE_URL     the server (started with --auth-token), http://127.0.0.1:PORT
//   AE_TOKEN   its token
//   AE_LOG     its log (each request with its status)
//   AE_FIXTURES, AE_TMP as for page.test.mjs
// Checks: the page asks for the token once (a wrong one is asked again), then scores; the
// token is sent with every API call and not asked again for the next ones; a page of another
// origin (http://localhost:PORT is not http://127.0.0.1:PORT) cannot read the API (even with
// the token, CORS is not granted) and a form of it that posts an image to the API (request
// forgery: no preflight) is refused by the server (403 in its log, nothing scored).
import { launch } from './launch.mjs';
import fs from 'node:fs';
import path from 'node:path';

const base = process.env.AE_URL, token = process.env.AE_TOKEN, logPath = process.env.AE_LOG;
const fixtures = process.env.AE_FIXTURES;
const tmp = process.env.AE_TMP || fs.mkdtempSync('/tmp/ae-browser-');
let failed = 0, passed = 0;
function check(cond, what) {
  if (cond) { passed++; return; }
  failed++;
  console.error(`FAIL: ${what}`);
}

const context = await launch(tmp, 'profile-access');
try {
  const page = context.pages()[0] || await context.newPage();
  const prompts = [];
  page.on('dialog', async (d) => {
    prompts.push(d.message());
    await d.accept(prompts.length === 1 ? 'not-the-token-at-all' : token);
  });
  const authorized = [];
  page.on('request', (req) => { if (req.url().includes('/api/')) authorized.push(!!req.headers().authorization); });
  await page.goto(base + '/');
  await page.waitForFunction(() => document.getElementById('model-line').textContent.startsWith('Model:'), null, { timeout: 30000 });
  check(prompts.length === 2 && prompts[0].includes('needs its token') && prompts[1].includes('refused'),
    `the page asks for the token, and again after a wrong one: ${JSON.stringify(prompts)}`);
  await page.setInputFiles('#files', [path.join(fixtures, 'images', 'photo_boats.jpg')]);
  await page.waitForFunction(() => document.querySelectorAll('#results li.card[data-score]').length === 1, null, { timeout: 30000 });
  check(prompts.length === 2, `not asked again for the next calls (${prompts.length} prompts)`);
  const last = authorized.slice(-2);
  check(last.length === 2 && last.every(Boolean), `the later API calls carry the token: ${JSON.stringify(authorized)}`);

  // another origin's page: the same server under another name is another origin
  const other = base.replace('127.0.0.1', 'localhost');
  await page.goto(other + '/');
  const before = fs.readFileSync(logPath, 'utf8').split('\n').length;
  // a readable request with the token: the preflight is answered without CORS headers
  const read = await page.evaluate(async ({ target, token }) => {
    try { await fetch(target + '/api/info', { headers: { Authorization: 'Bearer ' + token } }); return true; } catch (e) { return false; }
  }, { target: base, token });
  check(read === false, 'another origin cannot read the API, even with the token');
  // a form of that page posting an image to the API (cross-site request forgery: no preflight)
  await page.evaluate((target) => {
    document.body.insertAdjacentHTML('beforeend', `<form id="csrf" method="post" enctype="multipart/form-data" action="${target}/api/score"><input type="file" name="file" id="csrf-file"></form>`);
  }, base);
  await page.setInputFiles('#csrf-file', [path.join(fixtures, 'images', 'photo_rocket.jpg')]);
  await Promise.all([page.waitForNavigation({ timeout: 30000 }), page.evaluate(() => document.getElementById('csrf').submit())]);
  const shown = await page.textContent('body');
  check(/another site/.test(shown), `the form's answer is the refusal: ${shown.slice(0, 200)}`);
  await page.waitForTimeout(500);
  const added = fs.readFileSync(logPath, "utf8").split("\n").slice(Math.max(0, before - 1)).join("\n");
  check(/POST \/api\/score 403[^\n]*another site \((null|http:\/\/localhost:\d+)\)/.test(added), `the server refused the other origin's POST:\n${added}`);
  check(!/POST \/api\/score 200/.test(added), 'and scored nothing for it');
} catch (e) {
  failed++;
  console.error(`FAIL: ${e.stack || e}`);
} finally {
  await context.close();
}
console.log(`access: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
