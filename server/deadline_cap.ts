/**
 * A deadline longer than TASKMESH_MAX_TIMEOUT_MS is shortened to it, not refused.
 *
 * connect-es answers a `grpc-timeout` or `connect-timeout-ms` above its `maxTimeoutMs` with
 * INVALID_ARGUMENT. Outside clients set generous deadlines on long streams (a watch of a day),
 * and a server that refuses them is harder to use than one that simply ends the call at its own
 * maximum, as gRPC servers commonly do. So the header is rewritten before the library reads it.
 */

/** Milliseconds per gRPC timeout unit (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md). */
const GRPC_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

type NodeHeaders = Record<string, string | string[] | undefined>;

/** Rewrites a valid deadline header above `maxMs` to `maxMs`; leaves anything else for the library to judge. */
export function capDeadlineHeaders(headers: NodeHeaders, maxMs: number): void {
  const grpc = headers["grpc-timeout"];
  if (typeof grpc === "string") {
    const match = /^(\d{1,8})([HMSmun])$/.exec(grpc);
    if (match && Number(match[1]) * GRPC_UNIT_MS[match[2]] > maxMs) headers["grpc-timeout"] = `${maxMs}m`;
  }
  const connect = headers["connect-timeout-ms"];
  if (typeof connect === "string" && /^\d{1,10}$/.test(connect) && Number(connect) > maxMs) {
    headers["connect-timeout-ms"] = String(maxMs);
  }
}
