/**
 * Headless Chromium for page tests: Debian's `chromium` package (/usr/bin/chromium, or
 * CUTOVER_CHROMIUM), driven by playwright-core, which downloads no browser. Started with the flags
 * that keep it off the network (no background connections, updates or sync) and a fresh profile.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

const ROOT = join(import.meta.dirname, "../..");

export function chromiumPath(): string {
  const path = process.env.CUTOVER_CHROMIUM ?? "/usr/bin/chromium";
  if (!existsSync(path)) {
    throw new Error(
      `no Chromium at ${path}: the dashboard tests need Debian's chromium (apt-get install chromium), or CUTOVER_CHROMIUM set to a Chromium binary`,
    );
  }
  return path;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * Where a test's screenshots go: docs/screenshots/ with CUTOVER_UPDATE_SCREENSHOTS=1 (the pictures
 * the README and docs show), .tmp/screenshots/ otherwise (a test run leaves the tree as it was).
 */
export function screenshotDir(): string {
  return process.env.CUTOVER_UPDATE_SCREENSHOTS === "1"
    ? join(ROOT, "docs", "screenshots")
    : join(ROOT, ".tmp", "screenshots");
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = screenshotDir();
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
