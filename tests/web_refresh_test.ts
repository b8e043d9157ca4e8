/**
 * The silent refresh: a signed-in page rotates its session before the access token
 * expires, with nobody touching it, and keeps working past the first token's life. The
 * server runs on a manual clock and the browser on Playwright's fake one, moved together.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../server/clock.ts";
import { hashPassword } from "../server/auth/passwords.ts";
import { insertUser } from "../server/auth/user_queries.ts";
import { launchBrowser, startWebTestbed, uniqueEmail } from "./_support/web.ts";

const ACCESS_TTL_MS = 900_000;

Deno.test("web: the access token is refreshed silently before it expires, in Chromium", async () => {
  const clock = new ManualClock(Date.now());
  const bed = await startWebTestbed({ clock });
  const browser = await launchBrowser();
  try {
    const email = uniqueEmail("idle");
    const password = "an idle member's passphrase";
    await insertUser(bed.server.deps.sql, {
      id: crypto.randomUUID(),
      email,
      displayName: "Ida Idle",
      passwordHash: await hashPassword(password),
      role: "member",
      verifiedAt: new Date(clock.now()),
      now: new Date(clock.now()),
    });
    const context = await browser.newContext();
    await context.clock.install({ time: clock.now() });
    const page = await context.newPage();
    await page.goto(`${bed.url}/login`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Tags" }).waitFor();
    const cookie = async () => (await context.cookies()).find((c) => c.name === "taskmesh_refresh")?.value;
    const first = await cookie();

    // Past three quarters of the token's life, the page refreshes by itself.
    const refreshed = page.waitForResponse((r) => r.url().endsWith("/taskmesh.auth.v1.AuthService/Refresh"));
    clock.advance(ACCESS_TTL_MS * 0.8);
    await page.clock.fastForward(ACCESS_TTL_MS * 0.8);
    const answer = await refreshed;
    assert.equal(answer.status(), 200);
    assert.notEqual(await cookie(), first, "the refresh cookie was rotated");

    // Past the first token's expiry the page still works, on the new token.
    clock.advance(ACCESS_TTL_MS * 0.3);
    await page.clock.fastForward(ACCESS_TTL_MS * 0.3);
    const listed = page.waitForResponse((r) =>
      r.url().includes("/taskmesh.tags.v1.TagService/ListMySubscriptions")
    );
    await page.getByRole("link", { name: "Mail" }).click();
    assert.equal((await listed).status(), 200);
    await page.getByTestId("no-subscriptions").waitFor();
    await context.close();
  } finally {
    await browser.close();
    await bed.close();
  }
});
