/**
 * The server serves the built web app on its one port, beside the RPCs: every page path
 * (the mails' links among them) answers index.html with the security headers, over
 * HTTP/1.1 and h2; hashed assets are cached for good and gzipped; other paths are not
 * swallowed by the app.
 */
import assert from "node:assert/strict";
import { connect } from "node:http2";
import { ensureWebBuild } from "../server/web/build.ts";
import { PAGE_PATHS } from "../server/web/pages.ts";
import { startTestServer } from "./_support/server.ts";

Deno.test("web pages: every page path over HTTP/1.1 and h2, assets, and what is not a page", async () => {
  const { files } = await ensureWebBuild();
  const server = await startTestServer();
  try {
    for (const path of PAGE_PATHS) {
      const res = await fetch(`${server.url}${path}?token=abc`);
      assert.equal(res.status, 200, path);
      assert.match(await res.text(), /<script type="module" src="\/assets\/app-[A-Z0-9]+\.js"><\/script>/);
      assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'self'/);
      assert.equal(res.headers.get("cache-control"), "no-cache");
    }
    const js = files.find((f) => f.endsWith(".js"))!;
    const asset = await fetch(`${server.url}/${js}`, { headers: { "accept-encoding": "gzip" } });
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get("content-encoding"), "gzip");
    assert.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal(asset.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.ok((await asset.arrayBuffer()).byteLength > 10_000);

    const missing = await fetch(`${server.url}/assets/nothing-here.js`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    // Not a page: the plain HTTP routes still answer, and unknown paths are 404s, not the app.
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(await health.text(), "serving\n");
    const unknown = await fetch(`${server.url}/nope`);
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
    const post = await fetch(`${server.url}/signup`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    await post.body?.cancel();

    // The same over h2 (prior knowledge), as an HTTP/2 load balancer would ask.
    const session = connect(server.url);
    try {
      const { status, csp, body } = await new Promise<{ status: number; csp: string; body: string }>(
        (resolve, reject) => {
          const req = session.request({ ":path": "/tags", ":method": "GET" });
          let status = 0;
          let csp = "";
          let body = "";
          req.on("response", (headers) => {
            status = Number(headers[":status"]);
            csp = String(headers["content-security-policy"] ?? "");
          });
          req.setEncoding("utf8");
          req.on("data", (chunk: string) => body += chunk);
          req.on("end", () => resolve({ status, csp, body }));
          req.on("error", reject);
          req.end();
        },
      );
      assert.equal(status, 200);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.match(body, /<div id="root"><\/div>/);
    } finally {
      session.close();
    }
  } finally {
    await server.close();
  }
});
