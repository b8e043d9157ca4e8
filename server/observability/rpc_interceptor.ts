/**
 * One JSON log line and one metrics observation per RPC: method, code, duration,
 * request id and caller. Streaming calls are measured from open to close.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { callerKey, callerLabel } from "../auth/caller.ts";
import { isDatabaseUnavailable } from "../db/postgres.ts";
import { isRedisUnavailable } from "../redis/connection.ts";
import type { Logger } from "../log.ts";
import { requestIdKey } from "../request_context.ts";
import type { DescMethod } from "@bufbuild/protobuf";
import type { CounterSeries, HistogramSeriesHandle, ServerMetrics } from "./metrics.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const CODE_NAMES = new Map<Code, string>();

function codeName(error: unknown): string {
  if (error === undefined) return "ok";
  const code = error instanceof ConnectError ? error.code : Code.Internal;
  let name = CODE_NAMES.get(code);
  if (name === undefined) {
    name = (Code[code] ?? "unknown").replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
    CODE_NAMES.set(code, name);
  }
  return name;
}

/** What one method's calls count into, by status code: worked out at its first call with that code. */
interface MethodSeries {
  name: string;
  byCode: Map<string, { total: CounterSeries; seconds: HistogramSeriesHandle }>;
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
  const methods = new WeakMap<DescMethod, MethodSeries>();
  const seriesOf = (desc: DescMethod, code: string) => {
    let m = methods.get(desc);
    if (!m) methods.set(desc, m = { name: `${desc.parent.typeName}/${desc.name}`, byCode: new Map() });
    let series = m.byCode.get(code);
    if (!series) {
      const labels = { method: m.name, code };
      m.byCode.set(
        code,
        series = { total: metrics.rpcTotal.series(labels), seconds: metrics.rpcSeconds.series(labels) },
      );
    }
    return series;
  };
  return (next) => async (req) => {
    // A caller-supplied id ties our lines to theirs; anything odd is replaced, never echoed.
    const given = req.header.get("x-request-id");
    const requestId = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    req.contextValues.set(requestIdKey, requestId);
    const started = now();
    metrics.rpcInFlight.set(++inFlight);

    const finish = (cause?: unknown) => {
      const error = cause === undefined ? undefined : toPublicError(cause, requestId);
      metrics.rpcInFlight.set(--inFlight);
      const code = codeName(error);
      const seconds = (now() - started) / 1000;
      const series = seriesOf(req.method, code);
      series.total.inc();
      series.seconds.observe(seconds);
      const fields: Record<string, unknown> = {
        method: methods.get(req.method)!.name,
        code,
        duration_ms: Math.round(seconds * 1e6) / 1e3,
        request_id: requestId,
        caller: callerLabel(req.contextValues.get(callerKey)),
      };
      if (error !== undefined) {
        fields.error = error.rawMessage;
        // Internal errors are the server's fault: keep their cause for operators; callers see only the code.
        if (error.code === Code.Internal || error.code === Code.Unknown) {
          log.error("rpc failed", { ...fields, cause });
        } else if (error !== cause) {
          // A dependency outage: the operator needs what the driver said, once per call.
          log.warn("rpc failed: a dependency is unavailable", { ...fields, cause: String(cause) });
        } else log.info("rpc", fields);
      } else {
        log.info("rpc", fields);
      }
      return error;
    };

    let res;
    try {
      res = await next(req);
    } catch (error) {
      throw finish(clientGone(error, req.signal) ?? error);
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
        let failed = false;
        try {
          yield* source;
        } catch (error) {
          failed = true;
          throw finish(clientGone(error, req.signal) ?? error);
        } finally {
          if (!failed) finish();
        }
      })(),
    };
  };
}

/** What a caller may see of a failure: the message users can act on, with the request id attached. */
export const DATABASE_UNAVAILABLE = "database unavailable: try again shortly";
export const BROKER_UNAVAILABLE = "task broker (Redis) unavailable: try again shortly";

/**
 * The one place a failure becomes what the caller sees. ConnectErrors pass, unless they
 * are Internal/Unknown wrappers of a dependency outage. A Postgres or Redis that cannot be
 * reached is Unavailable (retry shortly), never Internal. Anything else that is not a
 * ConnectError is a bug or an infrastructure failure: its text may hold SQL, paths or
 * secrets, so callers get a generic Internal error with the request id to quote, and the
 * log keeps the cause.
 */
export function toPublicError(error: unknown, requestId: string): ConnectError {
  let ce: ConnectError;
  if (error instanceof ConnectError && error.code !== Code.Internal && error.code !== Code.Unknown) {
    ce = error;
  } else if (isDatabaseUnavailable(error)) {
    ce = new ConnectError(DATABASE_UNAVAILABLE, Code.Unavailable, undefined, undefined, error);
  } else if (
    isRedisUnavailable(error) || (error instanceof ConnectError && isRedisUnavailable(error.cause))
  ) {
    ce = new ConnectError(BROKER_UNAVAILABLE, Code.Unavailable, undefined, undefined, error);
  } else if (error instanceof ConnectError) {
    ce = error;
  } else {
    ce = new ConnectError(`internal error: quote request id ${requestId} to an operator`, Code.Internal);
  }
  ce.metadata.set("x-request-id", requestId);
  return ce;
}
