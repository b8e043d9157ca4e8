/**
 * Serves the built member web app (web/dist/) on the server's one port, beside the
 * RPCs: the page paths answer index.html (the app routes in the browser), /assets/*
 * the hashed bundle files. Every answer carries the security headers; pages have a
 * strict Content-Security-Policy with no inline script.
 */
import { gzipSync } from "node:zlib";
import type { NodeRequest, NodeResponse } from "../http_routes.ts";

/** The app's pages; the mails link to /verify-email and /reset-password. */
export const PAGE_PATHS = [
  "/",
  "/signup",
  "/login",
  "/verify-email",
  "/forgot-password",
  "/reset-password",
  "/account",
  "/tags",
  "/mail",
  "/challenges",
] as const;

/**
 * Pages whose path the server also routes itself: the link in campaign mails,
 * `/unsubscribe?token=…`. A GET opens the app's page when the app is built, else the
 * server's plain page; a POST (the RFC 8058 one-click, or the plain page's button) always
 * goes on to the server's route.
 */
export const SHARED_PAGE_PATHS = ["/unsubscribe"] as const;

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  // Verification and reset links carry a token in the query: never send it anywhere.
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

interface Asset {
  body: Uint8Array;
  gzip?: Uint8Array;
  type: string;
}

/** The handler for web paths; answers false for any other path, which the caller then routes. */
export function createWebHandler(dist: URL): (req: NodeRequest, res: NodeResponse) => Promise<boolean> {
  // Only files that exist are kept (a build is a few of them); a miss is not, so asking for
  // made-up names cannot grow the cache, and a build that finishes after start is picked up.
  const cache = new Map<string, Asset>();

  const load = async (file: string): Promise<Asset | undefined> => {
    const cached = cache.get(file);
    if (cached) return cached;
    let body: Uint8Array;
    try {
      body = await Deno.readFile(new URL(file, dist));
    } catch {
      return undefined;
    }
    const type = TYPES[file.slice(file.lastIndexOf("."))] ?? "application/octet-stream";
    const asset = { body, type, gzip: /text|svg/.test(type) ? gzipSync(body) : undefined };
    cache.set(file, asset);
    return asset;
  };

  return async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const shared = (SHARED_PAGE_PATHS as readonly string[]).includes(path);
    if (shared && ((req.method !== "GET" && req.method !== "HEAD") || !(await load("index.html")))) {
      return false;
    }
    const isPage = shared || (PAGE_PATHS as readonly string[]).includes(path);
    const isAsset = /^\/assets\/[\w.-]+$/.test(path);
    if (!isPage && !isAsset) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { "content-type": "text/plain", allow: "GET, HEAD", ...SECURITY_HEADERS });
      res.end("method not allowed: use GET\n");
      return true;
    }
    const asset = await load(isPage ? "index.html" : path.slice(1));
    if (!asset) {
      res.writeHead(isPage ? 503 : 404, { "content-type": "text/plain", ...SECURITY_HEADERS });
      res.end(
        isPage
          ? "the web app is not built: run deno task web:build (deno task start builds it)\n"
          : "not found\n",
      );
      return true;
    }
    const gzip = asset.gzip && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    const body = gzip ? asset.gzip! : asset.body;
    res.writeHead(200, {
      "content-type": asset.type,
      "content-length": String(body.byteLength),
      ...(gzip ? { "content-encoding": "gzip" } : {}),
      vary: "Accept-Encoding",
      // Asset names carry their content hash; the page must be fetched again to see a new build.
      "cache-control": isAsset ? "public, max-age=31536000, immutable" : "no-cache",
      ...SECURITY_HEADERS,
      ...(isPage ? { "content-security-policy": CONTENT_SECURITY_POLICY } : {}),
    });
    if (req.method === "HEAD") res.end();
    else res.end(body);
    return true;
  };
}
