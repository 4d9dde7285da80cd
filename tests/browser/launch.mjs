// launch.mjs — the one way the browser tests start Debian's Chromium: headless, a fresh
// profile under tmp (playwright passes it as --user-data-dir), 1280×800, no background traffic.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

export function launch(tmp, name) {
  return chromium.launchPersistentContext(fs.mkdtempSync(path.join(tmp, `${name}-`)), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
