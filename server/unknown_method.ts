/**
 * An RPC to a method this server does not serve gets each protocol's own Unimplemented answer,
 * not the plain-HTTP 404 page: gRPC and gRPC-Web a trailers-only response with grpc-status 12,
 * Connect unary a 404 with a JSON error of code "unimplemented", Connect streaming an end-of-
 * stream message carrying that error. Anything else (a browser's GET) is left to the HTTP routes.
 */
import type { NodeRequest, NodeResponse } from "./http_routes.ts";

const UNIMPLEMENTED = 12;

function message(path: string): string {
  return `unknown method ${path}: ask grpc.reflection.v1 for the methods this server serves`;
}

/** Answers and returns true when the request is an RPC of a known protocol; false otherwise. */
export function answerUnknownMethod(req: NodeRequest, res: NodeResponse): boolean {
  const type = String(req.headers["content-type"] ?? "").toLowerCase();
  const path = (req.url ?? "/").split("?")[0];
  const text = message(path);
  if (req.method === "POST" && type.startsWith("application/grpc")) {
    // gRPC and gRPC-Web alike: status in the headers, no body (trailers-only).
    res.writeHead(200, {
      "content-type": type.startsWith("application/grpc-web")
        ? "application/grpc-web+proto"
        : "application/grpc",
      "grpc-status": String(UNIMPLEMENTED),
      "grpc-message": encodeURIComponent(text),
    });
    res.end();
    return true;
  }
  if (req.method === "POST" && type.startsWith("application/connect+")) {
    const end = new TextEncoder().encode(JSON.stringify({ error: { code: "unimplemented", message: text } }));
    const envelope = new Uint8Array(5 + end.length);
    envelope[0] = 0b10; // end-stream flag
    new DataView(envelope.buffer).setUint32(1, end.length);
    envelope.set(end, 5);
    res.writeHead(200, {
      "content-type": type.includes("json") ? "application/connect+json" : "application/connect+proto",
    });
    res.end(envelope);
    return true;
  }
  const connectUnary = (req.method === "POST" && /^application\/(json|proto)\b/.test(type)) ||
    (req.method === "GET" && /[?&]connect=v1\b/.test(req.url ?? ""));
  if (connectUnary) {
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ code: "unimplemented", message: text }));
    return true;
  }
  return false;
}
