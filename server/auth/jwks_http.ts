/**
 * GET /.well-known/jwks.json: the published verification keys as a JSON Web Key Set,
 * for services in other processes and for any standard JWT library.
 */
import type { HttpRoute, NodeRequest, NodeResponse } from "../http_routes.ts";
import type { PublicJwk } from "./signing_keys.ts";

export const JWKS_PATH = "/.well-known/jwks.json";

export interface PublishedKeySource {
  publishedKeys(): Promise<PublicJwk[]>;
}

/** The route for the app's plain-HTTP table (server/http_routes.ts). */
export function jwksRoute(keys: PublishedKeySource): HttpRoute {
  return async () => ({
    status: 200,
    type: "application/jwk-set+json",
    body: JSON.stringify({ keys: await keys.publishedKeys() }),
    // Short: a verifier that sees an unknown kid refetches anyway, and retired keys must disappear.
    headers: { "cache-control": "public, max-age=60" },
  });
}

/** The same as a bare Node handler, for servers that do not use the route table. */
export function jwksNodeHandler(
  keys: PublishedKeySource,
): (req: NodeRequest, res: NodeResponse) => Promise<void> {
  const route = jwksRoute(keys);
  return async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { "content-type": "text/plain", allow: "GET, HEAD" });
      res.end("method not allowed: use GET\n");
      return;
    }
    let reply;
    try {
      reply = await route(req);
    } catch {
      reply = { status: 503, type: "text/plain", body: "keys unavailable: try again shortly\n" };
    }
    res.writeHead(reply.status, { "content-type": reply.type, ...reply.headers });
    if (req.method === "HEAD") res.end();
    else res.end(reply.body);
  };
}
