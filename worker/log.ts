/**
 * Structured JSON logs, one object a line, with the ids a line is about (worker,
 * task, lease) bound by child loggers so every line can be filtered by them.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** Lines below this level are dropped (default "info"). */
  level?: LogLevel;
  /** Where a finished line goes (default: stdout). */
  write?: (line: string) => void;
  /** Milliseconds since the epoch for the `time` field (default: Date.now). */
  now?: () => number;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const encoder = new TextEncoder();

/** Errors do not survive JSON.stringify (their fields are not enumerable). */
function plain(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

export function createLogger(options: LoggerOptions = {}, bound: LogFields = {}): Logger {
  const min = RANK[options.level ?? "info"];
  const write = options.write ?? ((line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n")));
  const now = options.now ?? Date.now;
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[level] < min) return;
    const record: LogFields = { time: new Date(now()).toISOString(), level, msg, ...bound };
    for (const [key, value] of Object.entries(fields ?? {})) record[key] = plain(value);
    write(JSON.stringify(record));
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

export interface MemoryLogger extends Logger {
  /** Every line logged so far, parsed. */
  readonly lines: LogFields[];
  /**
   * Resolves once `count` lines with this `msg` (or matching the predicate) have been
   * logged, counting lines from before the call: tests wait for an event, not for time.
   */
  waitFor(match: string | ((line: LogFields) => boolean), count?: number): Promise<LogFields>;
}

/** A logger that keeps its lines in memory, for tests. */
export function createMemoryLogger(level: LogLevel = "debug"): MemoryLogger {
  const lines: LogFields[] = [];
  const waiters: (() => void)[] = [];
  const logger = createLogger({
    level,
    write(line) {
      lines.push(JSON.parse(line));
      for (const wake of waiters.splice(0)) wake();
    },
  });
  const waitFor = async (match: string | ((line: LogFields) => boolean), count = 1) => {
    const test = typeof match === "string" ? (line: LogFields) => line.msg === match : match;
    while (true) {
      const found = lines.filter(test);
      if (found.length >= count) return found[count - 1];
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return Object.assign(logger, { lines, waitFor });
}
