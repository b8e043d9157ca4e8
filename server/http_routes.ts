/**
 * Plain HTTP beside the RPCs: GET routes such as /metrics and /.well-known/jwks.json,
 * and CORS so browsers can use Connect-Web and gRPC-Web from another origin.
 */
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";

type NodeHandler = NonNullable<ConnectNodeAdapterOptions["fallback"]>;
/** The request and response types connect-node hands a handler (http or http2 flavoured). */
export type NodeRequest = Parameters<NodeHandler>[0];
export type NodeResponse = Parameters<NodeHandler>[1];

export interface HttpReply {
  status: number;
  type: string;
  body: string;
  headers?: Record<string, string>;
}

export type HttpRoute = (req: NodeRequest) => HttpReply | Promise<HttpReply>;

/** `routes` answer GET and HEAD; `postRoutes` POST (their request body is not read). */
export async function handleHttpRoute(
  routes: Record<string, HttpRoute>,
  req: NodeRequest,
  res: NodeResponse,
  postRoutes: Record<string, HttpRoute> = {},
) {
  const path = (req.url ?? "/").split("?")[0];
  const route = req.method === "POST" ? postRoutes[path] ?? routes[path] : routes[path];
  let reply: HttpReply;
  const isPost = req.method === "POST" && postRoutes[path] !== undefined;
  if (!route) {
    reply = { status: 404, type: "text/plain", body: "not found\n" };
  } else if (req.method !== "GET" && req.method !== "HEAD" && !isPost) {
    const allow = postRoutes[path] ? "GET, HEAD, POST" : "GET, HEAD";
    reply = {
      status: 405,
      type: "text/plain",
      body: `method not allowed: use ${allow.replace(", HEAD", "")}\n`,
      headers: { allow },
    };
  } else {
    try {
      reply = await route(req);
    } catch {
      reply = { status: 500, type: "text/plain", body: "internal error\n" };
    }
  }
  res.writeHead(reply.status, { "content-type": reply.type, ...reply.headers });
  if (req.method === "HEAD") res.end();
  else res.end(reply.body);
}

const ALLOW_HEADERS = [
  "authorization",
  "content-type",
  "connect-protocol-version",
  "connect-timeout-ms",
  "connect-content-encoding",
  "connect-accept-encoding",
  "grpc-timeout",
  "x-grpc-web",
  "x-user-agent",
  "x-request-id",
].join(", ");

const EXPOSE_HEADERS = [
  "grpc-status",
  "grpc-message",
  "grpc-status-details-bin",
  "x-request-id",
  "retry-after",
].join(", ");

/** CORS response headers for an allowed Origin, or undefined when there is none to answer. */
export function corsHeaders(
  allowed: readonly string[],
  req: NodeRequest,
): Record<string, string> | undefined {
  const origin = req.headers.origin;
  if (typeof origin !== "string") return undefined;
  if (!allowed.includes("*") && !allowed.includes(origin)) return undefined;
  return {
    "access-control-allow-origin": allowed.includes("*") ? "*" : origin,
    "access-control-allow-methods": "GET, POST, OPTIONS",
    "access-control-allow-headers": ALLOW_HEADERS,
    "access-control-expose-headers": EXPOSE_HEADERS,
    "access-control-max-age": "7200",
    vary: "Origin",
  };
}

/** A Connect GET call's path: /package.Service/Method. */
const RPC_PATH = /^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/;

/**
 * Caching headers for a Connect GET call (a NO_SIDE_EFFECTS method called with GET).
 * The answer depends on the caller's credential and, through CORS, on the Origin, so no
 * shared cache may keep it, and any cache must key it by Origin.
 */
export function rpcGetHeaders(req: NodeRequest): Record<string, string> | undefined {
  if (req.method !== "GET" || !RPC_PATH.test((req.url ?? "").split("?")[0])) return undefined;
  return { "cache-control": "private, no-store", vary: "Origin" };
}
