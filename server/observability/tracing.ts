/**
 * Traces through Deno's built-in OpenTelemetry (`OTEL_DENO=true`; the exporter reads the
 * standard `OTEL_*` variables): a span per unary RPC, child of the caller's W3C
 * `traceparent`, and the trace context a task carries to its worker. Deno registers the
 * tracer, the W3C propagator and the async context manager behind `@opentelemetry/api`;
 * nothing here is a tracer of its own.
 *
 * Off (the default) costs nothing: no interceptor is installed, loggers look up no span,
 * and a task keeps its caller's `traceparent` as it came, so a tracing worker still joins
 * the caller's trace.
 */
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from "@opentelemetry/api";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/** Whether this process exports traces: Deno's own switch, read once. */
export const TRACING: boolean = (() => {
  try {
    return Deno.env.get("OTEL_DENO") === "true";
  } catch {
    return false; // no env permission: no telemetry either
  }
})();

/** Version 00 of https://www.w3.org/TR/trace-context/#traceparent-header, all-zero ids refused. */
const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

const tracer = () => trace.getTracer("taskmesh-server");

/**
 * One SERVER span per unary RPC, the caller's `traceparent` its parent, active while the
 * handler runs (so an enqueued task, and every log line, carries it). Streams (a worker's
 * session, the live watches) last hours and get none.
 */
export function createTracingInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (req.stream) return await next(req);
    const parent = trace.getActiveSpan()
      ? context.active()
      : propagation.extract(context.active(), req.header, headerGetter);
    const name = `${req.service.typeName}/${req.method.name}`;
    return await tracer().startActiveSpan(
      name,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "rpc.system": "connect_rpc",
          "rpc.service": req.service.typeName,
          "rpc.method": req.method.name,
        },
      },
      parent,
      async (span) => {
        try {
          return await next(req);
        } catch (error) {
          const code = error instanceof ConnectError ? error.code : Code.Internal;
          span.setAttribute("rpc.connect_rpc.error_code", Code[code]);
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  };
}

/** The W3C traceparent of the span active now, when tracing; a task enqueued here keeps it. */
export function activeTraceparent(): string | undefined {
  if (!TRACING) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/**
 * The trace context a task enqueued by this call keeps: the RPC's span when tracing, the
 * caller's well-formed `traceparent` as it came when not, otherwise none.
 */
export function taskTraceparent(requestHeader: Headers): string | undefined {
  const active = activeTraceparent();
  if (active) return active;
  const given = requestHeader.get("traceparent")?.trim().toLowerCase();
  return given && TRACEPARENT.test(given) ? given : undefined;
}

/** The ids a log line made inside a span carries: `trace_id` and `span_id`, or none. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const span = TRACING ? trace.getActiveSpan() : undefined;
  if (!span) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
