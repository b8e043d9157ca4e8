/**
 * One JSON log line and one metrics observation per RPC: method, code, duration,
 * request id and caller. Streaming calls are measured from open to close.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { callerKey, callerLabel } from "../auth/caller.ts";
import type { Logger } from "../log.ts";
import { requestIdKey } from "../request_context.ts";
import type { ServerMetrics } from "./metrics.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function codeName(error: unknown): string {
  if (error === undefined) return "ok";
  const code = error instanceof ConnectError ? error.code : Code.Internal;
  return Code[code].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
}

/**
 * A call whose client went away (a worker that disconnected or was killed, a closed
 * browser tab) is the client's doing, not a server fault: Canceled, logged at info.
 * Node's HTTP/2 layer reports it as a premature close of the request stream.
 */
function clientGone(error: unknown, signal: AbortSignal): ConnectError | undefined {
  if (error instanceof ConnectError) return undefined;
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== "ERR_STREAM_PREMATURE_CLOSE" && !signal.aborted) return undefined;
  return new ConnectError(
    "the client closed the call before it ended",
    Code.Canceled,
    undefined,
    undefined,
    error,
  );
}

export function createRpcInterceptor(
  options: { log: Logger; metrics: ServerMetrics; now?: () => number },
): Interceptor {
  const { log, metrics } = options;
  const now = options.now ?? (() => performance.now());
  let inFlight = 0;
  return (next) => async (req) => {
    // A caller-supplied id ties our lines to theirs; anything odd is replaced, never echoed.
    const given = req.header.get("x-request-id");
    const requestId = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    req.contextValues.set(requestIdKey, requestId);
    const method = `${req.service.typeName}/${req.method.name}`;
    const started = now();
    metrics.rpcInFlight.set(++inFlight);

    const finish = (error?: unknown) => {
      metrics.rpcInFlight.set(--inFlight);
      const code = codeName(error);
      const seconds = (now() - started) / 1000;
      metrics.rpcTotal.inc({ method, code });
      metrics.rpcSeconds.observe(seconds, { method, code });
      const fields: Record<string, unknown> = {
        method,
        code,
        duration_ms: Math.round(seconds * 1e6) / 1e3,
        request_id: requestId,
        caller: callerLabel(req.contextValues.get(callerKey)),
      };
      if (error !== undefined) {
        const ce = ConnectError.from(error);
        fields.error = ce.rawMessage;
        // Internal errors are the server's fault: keep their cause for operators; callers see only the code.
        if (ce.code === Code.Internal || ce.code === Code.Unknown) {
          log.error("rpc failed", { ...fields, cause: error });
        } else log.info("rpc", fields);
      } else {
        log.info("rpc", fields);
      }
    };

    let res;
    try {
      res = await next(req);
    } catch (error) {
      const failure = clientGone(error, req.signal) ?? error;
      finish(failure);
      throw withRequestId(failure, requestId);
    }
    res.header.set("x-request-id", requestId);
    if (!res.stream) {
      finish();
      return res;
    }
    const source = res.message;
    return {
      ...res,
      message: (async function* () {
        let failure: unknown;
        try {
          yield* source;
        } catch (error) {
          failure = clientGone(error, req.signal) ?? error;
          throw withRequestId(failure, requestId);
        } finally {
          finish(failure);
        }
      })(),
    };
  };
}

/**
 * Errors that are not ConnectErrors are bugs or infrastructure failures: their text may
 * hold SQL, paths or secrets, so callers get a generic Internal error with the request id
 * to quote, and the log keeps the cause.
 */
function withRequestId(error: unknown, requestId: string): ConnectError {
  const ce = error instanceof ConnectError
    ? error
    : new ConnectError(`internal error: quote request id ${requestId} to an operator`, Code.Internal);
  ce.metadata.set("x-request-id", requestId);
  return ce;
}
