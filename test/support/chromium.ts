import { accessSync, constants } from 'node:fs';
import { Browser, chromium } from 'playwright-core';

// The browser tests drive Debian's Chromium with playwright-core. `npx playwright install` needs the internet, so CI
// installs the distribution's package instead (.ci/run).
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** How long a browser step may take before the test fails. */
export const BROWSER_TIMEOUT_MS = 30_000;

/** Launches Debian's Chromium, headless; fails naming how to install it when it is missing. */
export async function launchChromium(): Promise<Browser> {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(
      `${CHROMIUM} not found: the browser tests drive Debian's Chromium. Install it with ` +
        '`sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium` (CI does so in .ci/run); ' +
        '`npx playwright install` is not used.',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: BROWSER_TIMEOUT_MS });
}
