/**
 * Structured JSON logging: one object per line, with the fields the caller binds
 * (request id, task id, worker id) carried by child loggers, and `trace_id`/`span_id`
 * when tracing is on and the line is written inside a span.
 */
import { activeTraceIds } from "./observability/tracing.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; stdout by default. Tests pass an array's push. */
  write?: (line: string) => void;
  /** Milliseconds since the epoch; the system clock by default. */
  now?: () => number;
}

const encoder = new TextEncoder();

function defaultWrite(line: string) {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

function errorFields(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

export function createLogger(options: LoggerOptions = {}, bound: Record<string, unknown> = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const write = options.write ?? defaultWrite;
  const now = options.now ?? Date.now;
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const record: Record<string, unknown> = { time: new Date(now()).toISOString(), level, msg, ...bound };
    // Inside a traced span (OTEL_DENO=true): the ids that find this line's trace.
    Object.assign(record, activeTraceIds());
    if (fields) { for (const [k, v] of Object.entries(fields)) record[k] = errorFields(v); }
    write(JSON.stringify(record));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

/** A logger that keeps its lines, for tests that assert on what was logged. */
export function createMemoryLogger(level: LogLevel = "debug"): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level, write: (line) => lines.push(JSON.parse(line)) });
  return Object.assign(logger, { lines });
}

/**
 * Wraps a logger so the same message is written at most once per `intervalMs`;
 * loops use it so one failing dependency cannot flood the log.
 */
export function rateLimitedLogger(log: Logger, intervalMs: number, now: () => number = Date.now): Logger {
  const last = new Map<string, number>();
  const gate = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    const t = now();
    const prev = last.get(msg);
    if (prev !== undefined && t - prev < intervalMs) return;
    last.set(msg, t);
    log[level](msg, fields);
  };
  return {
    debug: gate("debug"),
    info: gate("info"),
    warn: gate("warn"),
    error: gate("error"),
    child: (fields) => rateLimitedLogger(log.child(fields), intervalMs, now),
  };
}
