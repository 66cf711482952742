import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium (package `chromium`, which scripts/test.sh installs), headless and kept off the
 * network, driven by playwright-core: the browser of the live page's tests and of its cost in
 * bench:themis.
 */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
