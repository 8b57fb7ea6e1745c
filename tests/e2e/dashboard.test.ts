/**
 * The dashboard in a real browser (Debian's headless Chromium) against a real fleet: Redis, an S3
 * server, the controller and two nodes as processes. The page shows demo at v1 and its nodes; a wrong
 * token's error; activate v2 with progress while one node's download is held, then v2 everywhere;
 * rollback; a canary at 30 % and its abort; a manual canary promoted; a `<script>` in a node record
 * rendered as text; the phone width; the keyboard. Requests flow to the nodes throughout, so the chart
 * has traffic. No page raises an error or a CSP violation. Screenshots: tests/support/browser.ts says
 * where.
 */
import { request } from "node:http";
import { join } from "node:path";
import { Redis } from "ioredis";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, screenshot } from "../support/browser.js";
import { MODEL, TOKEN } from "../support/controller-harness.js";
import { type Fleet, startFleet } from "../support/fleet-harness.js";
import { DEMO } from "../support/registry-contract.js";

let fleet: Fleet;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
let load: { stop(): Promise<number> };

const REQUEST = JSON.stringify({
  inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [0.5, -1.2, 3.3, 0.1] }],
});

/** Sends requests to the nodes in turn until stopped; resolves with how many failed. */
function startLoad(urls: readonly string[]): { stop(): Promise<number> } {
  let running = true;
  let failed = 0;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const response = await fetch(`${urls[i % urls.length]}/v2/models/${MODEL}/infer`, {
        method: "POST",
        body: REQUEST,
      }).catch(() => undefined);
      if (response?.status !== 200) failed++;
      await response?.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return failed;
    },
  };
}

/** The status of a GET of `path` exactly as written (node:http sends the path unnormalised). */
function rawStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const asked = request({ host: "127.0.0.1", port, path, method: "GET" }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    asked.on("error", reject);
    asked.end();
  });
}

const text = (selector: string) => () => page.locator(selector).first().textContent();

async function enterToken(value: string): Promise<void> {
  await page.getByRole("button", { name: /token/i }).first().click();
  await page.locator("#token-input").fill(value);
  await page.getByRole("button", { name: "Use token" }).click();
}

async function openModel(): Promise<void> {
  await page.goto(`${fleet.controller.url}/#/models/${MODEL}`);
  await page.locator("[data-testid=active]").waitFor();
}

beforeAll(async () => {
  // v3 names its pipeline with a javascript: URL and its commit with markup: the page must link neither.
  const hostileSource = { commit: `<img src=x onerror="window.__pwned = 3">`, pipeline: "javascript:window.__pwned=4" };
  [fleet, browser] = await Promise.all([
    startFleet({ nodes: 2, versions: [{ version: "v3", path: join(DEMO, "v2"), source: hostileSource }] }),
    launchBrowser(),
  ]);
  expect((await fleet.activate("v1")).status).toBe(200);
  load = startLoad(fleet.nodes.map((node) => node.url));
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (error) => pageErrors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    // The wrong-token test's 401 is expected; anything else (a CSP violation, a failed asset) is not.
    if (message.type() === "error" && !/status of 401/.test(message.text()))
      pageErrors.push(`console: ${message.text()}`);
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await load?.stop();
  await fleet?.stop();
});

describe("the dashboard in Chromium", () => {
  it("serves the page with a Content-Security-Policy and no inline script", async () => {
    const response = await fetch(`${fleet.controller.url}/`);
    expect(response.status).toBe(200);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("unsafe");
    const html = await response.text();
    expect(html).not.toMatch(/<script>(?!<)|<script(?![^>]*\bsrc=)[^>]*>/);
    // Raw paths, as sent (fetch would normalise the dots away): nothing outside the served set.
    for (const path of [
      "/ui/../package.json",
      "/ui/%2e%2e/package.json",
      "/ui/app/../../package.json",
      "/ui/app/nothing.js",
    ]) {
      expect(await rawStatus(fleet.controller.port, path), path).toBe(404);
    }
  });

  it("lists demo at v1 and shows its nodes", { timeout: 60_000 }, async () => {
    await page.goto(`${fleet.controller.url}/`);
    const row = page.locator("tr[data-model=demo]");
    await row.waitFor();
    expect(await row.textContent()).toContain("v1");
    await expect.poll(text("tr[data-model=demo] .badge"), { timeout: 10_000 }).toBe("2/2");
    await screenshot(page, "dashboard-models");
    await row.getByRole("link", { name: MODEL }).click();
    await expect.poll(text("[data-testid=active]")).toBe("v1");
    for (const node of ["n1", "n2"]) {
      await expect.poll(text(`tr[data-node=${node}] td:nth-child(2)`), { timeout: 10_000 }).toBe("v1");
    }
    await expect.poll(() => page.locator("tr[data-version]").count(), { timeout: 10_000 }).toBe(5);
    // v3's hostile source: its commit shows as text, its javascript: pipeline is not a link.
    const v3 = page.locator("tr[data-version=v3]");
    expect(await v3.locator("td").nth(4).textContent()).toBe(`<img src=x o`);
    expect(await v3.locator("a").count()).toBe(0);
    expect(await v3.locator("td").nth(5).textContent()).toBe("javascript:window.__pwned=4");
    // Read-only without a token: the change buttons are there but disabled.
    expect(await page.getByRole("button", { name: "Activate…" }).isDisabled()).toBe(true);
  });

  it("a wrong token shows the API's error, as the CLI words it, and changes nothing", async () => {
    await openModel();
    await enterToken("wrong-token-0123456789");
    await page.getByRole("button", { name: "Activate…" }).click();
    await page.locator("#activate-version").selectOption("v2");
    await page.locator("#activate-form").getByRole("button", { name: "Activate" }).click();
    await expect.poll(text("[data-testid=notice-text]")).toBe("UNAUTHORIZED: invalid bearer token");
    await screenshot(page, "dashboard-wrong-token");
    expect(await text("[data-testid=active]")()).toBe("v1");
    // The rejected token is forgotten: the page is read-only again.
    expect(await page.getByRole("button", { name: "Activate…" }).isDisabled()).toBe(true);
    expect(await text("#signed-in")()).toBe("read-only");
  });

  it("activate v2: the page shows the nodes staging, then v2 on every node", { timeout: 90_000 }, async () => {
    await openModel();
    await enterToken(TOKEN);
    const slow = fleet.nodes[1];
    if (slow === undefined) throw new Error("the fleet has no second node");
    slow.s3Proxy.hold(/^GET \S*\/demo\/v2\//);
    try {
      await page.getByRole("button", { name: "Activate…" }).click();
      await page.locator("#activate-version").selectOption("v2");
      await page.locator("#activate-form").getByRole("button", { name: "Activate" }).click();
      await expect
        .poll(text("[data-testid=staged]"), { timeout: 30_000 })
        .toMatch(/^Nodes staged: 1\/2 \(1 fetching\)/);
      await screenshot(page, "dashboard-rollout");
    } finally {
      slow.s3Proxy.release();
    }
    await expect.poll(text("[data-testid=active]"), { timeout: 30_000 }).toBe("v2");
    await expect.poll(text("[data-testid=notice-text]")).toMatch(/v2/);
    for (const node of ["n1", "n2"]) {
      await expect.poll(text(`tr[data-node=${node}] td:nth-child(2)`), { timeout: 10_000 }).toBe("v2");
    }
    await expect.poll(() => page.locator("li[data-rollout]").count()).toBe(2);
    // The load has been running on v1: each node replayed what it kept on v2, and the history says so.
    const newest = await text("li[data-rollout]")();
    for (const node of ["n1", "n2"]) {
      expect(newest).toMatch(
        new RegExp(`${node}: promoted — replay: [1-9]\\d* replayed, \\d+ of [1-9]\\d* compared diverged`),
      );
    }
  });

  it("rollback returns every node to v1", { timeout: 60_000 }, async () => {
    await page.getByRole("button", { name: "Roll back to v1" }).click();
    expect(await page.locator("#confirm-text").textContent()).toContain("from v2 to v1");
    await page.locator("#confirm-ok").click();
    await expect.poll(text("[data-testid=active]"), { timeout: 30_000 }).toBe("v1");
    for (const node of ["n1", "n2"]) {
      await expect.poll(text(`tr[data-node=${node}] td:nth-child(2)`), { timeout: 10_000 }).toBe("v1");
    }
    // By now the nodes have reported a few windows of traffic: the chart draws it.
    await expect
      .poll(text(".chart + p"), { timeout: 30_000 })
      .toMatch(
        /^[1-9]\d* requests in the last .*: v1 [1-9][\d.]* req\/s, 0\.00 % failed, 0\.00 % rejected \(4xx\), p99 [\d.]+ ms\.$/,
      );
    expect(await page.locator(".chart canvas").count()).toBe(1);
    await screenshot(page, "dashboard-model");
  });

  it("a canary at 30 % shows its weight; abort sends the traffic back", { timeout: 90_000 }, async () => {
    await page.getByRole("button", { name: "Activate…" }).click();
    await page.locator("#activate-version").selectOption("v2");
    await page.locator("input[name=strategy][value=canary]").check();
    await page.locator("#activate-canary").fill("30");
    await page.locator("#activate-manual").check();
    await page.locator("#activate-form").getByRole("button", { name: "Activate" }).click();
    await expect.poll(text("[data-testid=weight]"), { timeout: 30_000 }).toBe("30 %");
    expect(await page.locator("[data-testid=rollout]").textContent()).toContain("step 1 of 1 (30 %, then 100 %)");
    await expect.poll(text(`tr[data-node=n1] td:nth-child(2)`), { timeout: 10_000 }).toBe("v1 (30 % v2)");
    // Both versions' traffic reaches the chart once the nodes have reported a window of the split.
    await expect
      .poll(text(".chart + p"), { timeout: 45_000, interval: 1_000 })
      .toMatch(/: v1 [1-9][\d.]* req\/s, [^;]*; v2 [1-9][\d.]* req\/s/);
    await screenshot(page, "dashboard-canary");
    await page.getByRole("button", { name: "Abort" }).click();
    await page.locator("#confirm-ok").click();
    await expect.poll(() => page.locator("[data-testid=rollout]").count(), { timeout: 30_000 }).toBe(0);
    expect(await text("[data-testid=active]")()).toBe("v1");
    await expect.poll(text("li[data-rollout] summary"), { timeout: 10_000 }).toMatch(/aborted/);
  });

  it("Promote step takes a manual canary to 100 %: v2 on every node", { timeout: 90_000 }, async () => {
    await page.getByRole("button", { name: "Activate…" }).click();
    await page.locator("#activate-version").selectOption("v2");
    await page.locator("input[name=strategy][value=canary]").check();
    await page.locator("#activate-canary").fill("50");
    await page.locator("#activate-manual").check();
    await page.locator("#activate-form").getByRole("button", { name: "Activate" }).click();
    await expect.poll(text("[data-testid=weight]"), { timeout: 30_000 }).toBe("50 %");
    await page.getByRole("button", { name: "Promote step" }).click();
    expect(await page.locator("#confirm-text").textContent()).toContain("next step");
    await page.locator("#confirm-ok").click();
    await expect.poll(text("[data-testid=active]"), { timeout: 30_000 }).toBe("v2");
    await expect.poll(() => page.locator("[data-testid=rollout]").count(), { timeout: 10_000 }).toBe(0);
    for (const node of ["n1", "n2"]) {
      await expect.poll(text(`tr[data-node=${node}] td:nth-child(2)`), { timeout: 10_000 }).toBe("v2");
    }
    await expect.poll(text("li[data-rollout] summary"), { timeout: 10_000 }).toMatch(/canary 50 %\): promoted/);
  });

  it("works at a phone's width and from the keyboard", { timeout: 60_000 }, async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    try {
      await phone.goto(`${fleet.controller.url}/#/models/${MODEL}`);
      await phone.locator("[data-testid=active]").waitFor();
      expect(await phone.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
      await screenshot(phone, "dashboard-phone");
    } finally {
      await phone.close();
    }
    await openModel();
    // Tab from the top of the page reaches the Activate button; Enter opens its dialog, Escape closes it.
    let focused = "";
    for (let i = 0; i < 12 && focused !== "Activate…"; i++) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate<string>('document.activeElement?.textContent ?? ""');
    }
    expect(focused).toBe("Activate…");
    await page.keyboard.press("Enter");
    // The dialog opens once the versions are read again.
    await expect
      .poll(() => page.locator("#activate-dialog").evaluate((dialog) => (dialog as unknown as { open: boolean }).open))
      .toBe(true);
    await page.keyboard.press("Escape");
    expect(
      await page.locator("#activate-dialog").evaluate((dialog) => (dialog as unknown as { open: boolean }).open),
    ).toBe(false);
  });

  it("a node record holding <script> shows it as text and runs nothing", { timeout: 60_000 }, async () => {
    const hostile = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">`;
    const redis = new Redis(fleet.redis.url);
    const now = new Date().toISOString();
    const record = {
      nodeId: hostile,
      url: "http://127.0.0.1:1",
      executionProvider: "<b>cpu</b>",
      startedAt: now,
      updatedAt: now,
      serves: [MODEL],
      models: { [MODEL]: { active: "v1", revision: 1, warm: [], staged: null, lastError: hostile } },
    };
    try {
      await redis.set("fleet:{nodes}:hostile", JSON.stringify(record));
      await redis.zadd("fleet:{nodes}", Date.now() + 600_000, "hostile");
      await openModel();
      const row = page.locator("tr[data-node]", { hasText: "window.__pwned" });
      await row.first().waitFor({ timeout: 15_000 });
      expect(await row.locator("td").first().textContent()).toBe(hostile);
      expect(await row.locator("td").nth(5).textContent()).toBe(hostile);
      expect(await page.evaluate<unknown>("window.__pwned")).toBeUndefined();
      expect(await page.locator("main script, main img").count()).toBe(0);
    } finally {
      await redis.del("fleet:{nodes}:hostile");
      await redis.zrem("fleet:{nodes}", "hostile");
      redis.disconnect();
    }
    expect(pageErrors).toEqual([]);
    expect(await load.stop()).toBe(0);
  });
});
