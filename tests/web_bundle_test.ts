/**
 * The web app's build: what a first visit loads stays within the budget (150 KB of
 * gzipped JavaScript), index.html has no inline script (the CSP would block it), and a
 * build that is current is not redone (so `deno task start` stays fast).
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { ensureWebBuild } from "../server/web/build.ts";
import { WEB_DIST } from "../server/web/paths.ts";

const BUDGET_BYTES = 150 * 1024;

Deno.test("web bundle: first load is at most 150 KB of gzipped JavaScript, with no inline script", async () => {
  await ensureWebBuild();
  const html = await Deno.readTextFile(new URL("index.html", WEB_DIST));
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.ok(scripts.length > 0);
  for (const [, attributes, body] of scripts) {
    assert.equal(body.trim(), "", "no inline script");
    assert.match(attributes, /\bsrc="\/assets\/[^"]+\.js"/);
  }
  // The app has no lazy chunks: a first visit loads every JS file the build wrote.
  let gzipped = 0;
  for await (const entry of Deno.readDir(new URL("assets/", WEB_DIST))) {
    if (!entry.name.endsWith(".js")) continue;
    gzipped += gzipSync(await Deno.readFile(new URL(`assets/${entry.name}`, WEB_DIST))).byteLength;
  }
  assert.ok(
    gzipped <= BUDGET_BYTES,
    `first load is ${gzipped} gzipped bytes, over the ${BUDGET_BYTES} budget`,
  );
  assert.ok(gzipped > 10_000, "the bundle holds the app");
});

Deno.test("web bundle: a current build is not redone", async () => {
  await ensureWebBuild();
  const again = await ensureWebBuild();
  assert.equal(again.built, false);
  assert.ok(again.files.some((f) => /^assets\/app-[A-Z0-9]+\.js$/.test(f)), again.files.join(", "));
});
