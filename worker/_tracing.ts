/**
 * The handler span: with Deno's OpenTelemetry on (`OTEL_DENO=true`, exporter from the
 * standard `OTEL_*` variables), each attempt runs inside a CONSUMER span whose parent is
 * the Assign's `traceparent` (the call that enqueued the task), so the trace goes from
 * that call to the handler. Off, the handler runs as it is: no span, no lookup.
 */
import { context, propagation, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";

const enabled: boolean = (() => {
  try {
    return Deno.env.get("OTEL_DENO") === "true";
  } catch {
    return false;
  }
})();

export interface SpanInfo {
  type: string;
  queue: string;
  taskId: string;
  attempt: number;
  /** From Assign; "" or undefined when the task carries none (the span starts a trace). */
  traceparent?: string;
}

/**
 * Runs `work` inside the attempt's span when tracing is on (the span's ids are handed to
 * it for the task's log lines), or bare when it is off. `failed` tells the span how the
 * attempt ended when `work` resolves with an error outcome rather than throwing.
 */
export async function inHandlerSpan<T>(
  info: SpanInfo,
  work: (ids?: { trace_id: string; span_id: string }) => Promise<T>,
  failed: (result: T) => string | undefined,
): Promise<T> {
  if (!enabled) return await work();
  const parent = info.traceparent
    ? propagation.extract(context.active(), { traceparent: info.traceparent })
    : context.active();
  return await trace.getTracer("taskmesh-worker").startActiveSpan(
    `task ${info.type}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.system": "taskmesh",
        "messaging.destination.name": info.queue,
        "messaging.message.id": info.taskId,
        "taskmesh.task.type": info.type,
        "taskmesh.task.attempt": info.attempt,
      },
    },
    parent,
    async (span: Span) => {
      try {
        const { traceId, spanId } = span.spanContext();
        const result = await work({ trace_id: traceId, span_id: spanId });
        const error = failed(result);
        if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
        return result;
      } finally {
        span.end();
      }
    },
  );
}
