/**
 * The web app's security in a real browser: the refresh cookie's flags, no token in
 * web storage, the Content-Security-Policy (an injected inline script does not run),
 * and a page of another origin that cannot call the API.
 */
import assert from "node:assert/strict";
import { ensureFirstAdmin } from "../server/auth/first_admin.ts";
import { hashPassword } from "../server/auth/passwords.ts";
import { insertUser } from "../server/auth/user_queries.ts";
import { freePort, launchBrowser, screenshot, startWebTestbed, uniqueEmail } from "./_support/web.ts";

/** A third-party site: its page runs probe.js, which calls the API and records what happened. */
function startOtherSite(port: number, api: string): Deno.HttpServer {
  const probe = `
    const api = ${JSON.stringify(api)};
    async function attempt(path, init) {
      try {
        const res = await fetch(api + path, init);
        return "answered " + res.status;
      } catch (error) {
        return "blocked: " + error.name;
      }
    }
    const json = { method: "POST", headers: { "content-type": "application/json" }, body: "{}" };
    Promise.all([
      attempt("/taskmesh.auth.v1.AuthService/GetJwks", json),
      attempt("/taskmesh.auth.v1.AuthService/Refresh", {
        ...json,
        credentials: "include",
        headers: { ...json.headers, "x-taskmesh-session": "cookie" },
      }),
    ]).then(([jwks, refresh]) => { window.probe = { jwks, refresh }; });`;
  return Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/probe.js") return new Response(probe, { headers: { "content-type": "text/javascript" } });
    return new Response('<!doctype html><title>elsewhere</title><script src="/probe.js"></script>', {
      headers: { "content-type": "text/html" },
    });
  });
}

Deno.test("web: cookie flags, no token in storage, CSP, other origins, the first admin, in Chromium", async (t) => {
  const allowedPort = freePort();
  const allowed = `http://127.0.0.1:${allowedPort}`;
  const bed = await startWebTestbed({ env: { TASKMESH_CORS_ORIGINS: allowed } });
  const browser = await launchBrowser();
  // On the empty database: the admin whose password the banner prints once.
  const firstAdmin = (await ensureFirstAdmin(bed.server.deps))!;
  const email = uniqueEmail("sec");
  const password = "a safe long passphrase";
  await insertUser(bed.server.deps.sql, {
    id: crypto.randomUUID(),
    email,
    displayName: "Sec Member",
    passwordHash: await hashPassword(password),
    role: "member",
    verifiedAt: new Date(),
    now: new Date(),
  });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();

    await t.step(
      "the refresh cookie is HttpOnly, SameSite=Strict, scoped; no token in web storage",
      async () => {
        await page.goto(`${bed.url}/login`);
        await page.getByLabel("Email").fill(email);
        await page.getByLabel("Password").fill(password);
        const loginAnswer = page.waitForResponse((r) =>
          r.url().endsWith("/taskmesh.auth.v1.AuthService/Login")
        );
        await page.getByRole("button", { name: "Log in" }).click();
        const login = await (await loginAnswer).json();
        await page.getByRole("heading", { name: "Tags" }).waitFor();
        const access: string = login.tokens.accessToken;
        assert.ok(access);
        assert.equal(login.tokens.refreshToken, undefined, "the refresh token never reaches JavaScript");

        const cookies = (await context.cookies()).filter((c) => c.name === "taskmesh_refresh");
        assert.equal(cookies.length, 1);
        const [cookie] = cookies;
        assert.equal(cookie.httpOnly, true);
        assert.equal(cookie.sameSite, "Strict");
        assert.equal(cookie.path, "/taskmesh.auth.v1.AuthService");
        assert.equal(
          cookie.secure,
          false,
          "plain http on loopback; https sets Secure (tests/web_sessions_test.ts)",
        );

        const seen = await page.evaluate<string>(
          "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])",
        );
        assert.equal(seen, JSON.stringify([[], [], ""]));
        assert.ok(!seen.includes(access));
        // A reload keeps the session through the cookie, and still stores nothing.
        await page.reload();
        await page.getByRole("heading", { name: "Tags" }).waitFor();
        assert.equal(
          await page.evaluate<number>("localStorage.length + sessionStorage.length"),
          0,
        );
      },
    );

    await t.step(
      "pages carry a strict CSP and the other headers; an injected inline script is blocked",
      async () => {
        const res = await page.goto(`${bed.url}/account`);
        const headers = res!.headers();
        const csp = headers["content-security-policy"];
        assert.match(csp, /(^|; )script-src 'self'(;|$)/);
        assert.match(csp, /(^|; )frame-ancestors 'none'(;|$)/);
        assert.match(csp, /(^|; )default-src 'none'(;|$)/);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
        assert.equal(headers["x-content-type-options"], "nosniff");
        assert.equal(headers["referrer-policy"], "no-referrer");
        assert.equal(headers["x-frame-options"], "DENY");
        await page.getByRole("heading", { name: "Your account" }).waitFor();
        const outcome = await page.evaluate<{ ran: boolean; directive: string }>(`new Promise((resolve) => {
        document.addEventListener("securitypolicyviolation", (e) => {
          resolve({ ran: window.injected === true, directive: e.effectiveDirective });
        }, { once: true });
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.body.appendChild(script);
      })`);
        assert.deepEqual(outcome, { ran: false, directive: "script-src-elem" });
        await screenshot(page, "account-signed-in");
      },
    );

    await t.step(
      "a page of an origin not allowed cannot call the API; no origin can use the cookie",
      async () => {
        const otherPort = freePort();
        const sites = [startOtherSite(allowedPort, bed.url), startOtherSite(otherPort, bed.url)];
        try {
          const probe = async (origin: string) => {
            const p = await context.newPage();
            await p.goto(origin);
            await p.waitForFunction("window.probe !== undefined");
            const result = await p.evaluate<{ jwks: string; refresh: string }>("window.probe");
            await p.close();
            return result;
          };
          // The allowed origin reaches public methods; the session cookie is never sent cross-site
          // and the cookie-mode header is not an allowed one, so even it cannot refresh.
          assert.deepEqual(await probe(allowed), { jwks: "answered 200", refresh: "blocked: TypeError" });
          assert.deepEqual(await probe(`http://127.0.0.1:${otherPort}`), {
            jwks: "blocked: TypeError",
            refresh: "blocked: TypeError",
          });
        } finally {
          await Promise.all(sites.map((s) => s.shutdown()));
        }
      },
    );
    await context.close();

    await t.step("the first admin's one-time password leads only to choosing a new one", async () => {
      const admin = await browser.newContext();
      const p = await admin.newPage();
      await p.goto(`${bed.url}/login`);
      await p.getByLabel("Email").fill(firstAdmin.email);
      await p.getByLabel("Password").fill(firstAdmin.password);
      await p.getByRole("button", { name: "Log in" }).click();
      await p.getByRole("heading", { name: "Your account" }).waitFor();
      assert.equal(new URL(p.url()).pathname, "/account");
      await p.getByText("choose your own below").waitFor();
      await p.getByLabel("Current password").fill(firstAdmin.password);
      await p.getByLabel("New password").fill("the admin's own passphrase");
      await p.getByRole("button", { name: "Change password" }).click();
      await p.getByTestId("notice").getByText("Password changed").waitFor();
      await p.getByRole("link", { name: "Tags" }).click();
      await p.getByRole("heading", { name: "Tags" }).waitFor();
      await p.getByTestId("tag-tree").waitFor({ state: "attached" });
      await admin.close();
    });
  } finally {
    await browser.close();
    await bed.close();
  }
});
