/**
 * The link in every campaign mail, `/unsubscribe?token=…`, without authentication:
 * GET shows a short page with a button (a link scanner that follows links must not
 * unsubscribe anyone), POST unsubscribes: the RFC 8058 one-click POST a mail client
 * sends from List-Unsubscribe-Post, or the page's button. Both are idempotent; a bad or
 * expired token gets the same answer whatever address it names.
 */
import type { HttpReply, HttpRoute, NodeRequest } from "../http_routes.ts";
import type { HandlerDeps } from "./_deps.ts";
import { REFUSED_TOKEN, unsubscribeWithToken } from "./_progress_handlers.ts";

const SECURITY = {
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(status: number, title: string, body: string): HttpReply {
  return {
    status,
    type: "text/html; charset=utf-8",
    headers: SECURITY,
    body: `<!doctype html><html lang="en"><meta charset="utf-8"><title>${title}</title>` +
      `<body style="font-family:sans-serif;max-width:32em;margin:3em auto"><h1>${title}</h1>${body}</body></html>\n`,
  };
}

function tokenOf(req: NodeRequest): string {
  const url = new URL(req.url ?? "/", "http://x");
  return url.searchParams.get("token") ?? "";
}

export function unsubscribeRoutes(deps: HandlerDeps): {
  get: Record<string, HttpRoute>;
  post: Record<string, HttpRoute>;
} {
  const get: HttpRoute = async (req) => {
    const token = tokenOf(req);
    if (!(await deps.signer.verify(token, deps.clock.now()))) {
      return page(400, "Link not valid", `<p>${escapeHtml(REFUSED_TOKEN)}.</p>`);
    }
    return page(
      200,
      "Unsubscribe",
      `<p>Stop receiving campaign emails at this address?</p>` +
        `<form method="post" action="/unsubscribe?token=${encodeURIComponent(token)}">` +
        `<button type="submit">Unsubscribe</button></form>`,
    );
  };
  const post: HttpRoute = async (req) => {
    const email = await unsubscribeWithToken(deps, tokenOf(req));
    if (!email) return page(400, "Link not valid", `<p>${escapeHtml(REFUSED_TOKEN)}.</p>`);
    return page(200, "Unsubscribed", `<p>${escapeHtml(email)} will receive no more campaign emails.</p>`);
  };
  return { get: { "/unsubscribe": get }, post: { "/unsubscribe": post } };
}
