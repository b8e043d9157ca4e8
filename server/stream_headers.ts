/**
 * A server stream sends its response headers as soon as the call is accepted, not with its
 * first message.
 *
 * connect-es holds the headers back until the first message so that a handler may still add
 * some. For a watch that may wait minutes for its first event, the client then cannot tell a
 * live watch from a hung connection. Once every interceptor has accepted the call (so
 * authentication failures still get a trailers-only answer), this interceptor writes the
 * headers gathered so far; headers a stream handler sets later are not sent (none of ours do).
 */
import { createContextKey, type Interceptor } from "@connectrpc/connect";
import type { NodeResponse } from "./http_routes.ts";

/** The node response of the call, set by the app's request handler. */
export const nodeResponseKey = createContextKey<NodeResponse | undefined>(undefined, {
  description: "the node:http response of this call",
});

export function createStreamHeadersInterceptor(): Interceptor {
  return (next) => async (req) => {
    // A unary call has nothing to send early: pass it on without holding it.
    if (!req.stream) return next(req);
    const res = await next(req);
    const node = req.contextValues.get(nodeResponseKey);
    if (!res.stream || !node || node.headersSent) return res;
    const headers: Record<string, string> = {};
    res.header.forEach((value, name) => headers[name] = value);
    node.writeHead(200, headers);
    // HTTP/1.1 holds a written head until the first body byte; HTTP/2 sends it with writeHead.
    (node as { flushHeaders?: () => void }).flushHeaders?.();
    // The library writes the head again with the first message; it has gone already.
    node.writeHead = (() => node) as typeof node.writeHead;
    return res;
  };
}
