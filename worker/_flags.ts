/**
 * The worker process's command line. Parsing is strict: a mistyped flag is an
 * error, not a silently ignored option, so a worker never runs on queues nobody
 * asked for.
 */
import type { LogLevel } from "./log.ts";

export const DEFAULT_SERVER_URL = "http://127.0.0.1:8080";

export const USAGE = `usage: deno task worker [flags]

  --queues=a,b          queues to take tasks from (default: default)
  --concurrency=N       most tasks run at once, 1–1000 (default: 10)
  --url=URL             the taskmesh server (default: $TASKMESH_SERVER_URL or ${DEFAULT_SERVER_URL})
  --api-key-file=PATH   a file holding an API key with the worker scope
                        (default: $TASKMESH_API_KEY_FILE, else $TASKMESH_API_KEY)
  --api-key=KEY         the key itself; visible to every user of the machine (ps) and
                        printed by deno task: prefer TASKMESH_API_KEY or --api-key-file
  --worker-id=ID        a stable id for this worker (default: host:pid:random)
  --log-level=LEVEL     debug, info, warn or error (default: $TASKMESH_LOG_LEVEL or info)
  --help                print this and exit

SIGTERM or SIGINT drains (finishes running tasks, takes no new ones, exits 0);
a second signal stops at once.`;

export interface WorkerFlags {
  queues: string[];
  concurrency: number;
  url: string;
  apiKey: string;
  /** Where the key came from: a key on the command line is visible to others, so main warns. */
  apiKeyFrom: "flag" | "file" | "env";
  workerId?: string;
  logLevel: LogLevel;
}

export type ParsedFlags = { kind: "run"; flags: WorkerFlags } | { kind: "help" } | {
  kind: "error";
  message: string;
};

const KNOWN = new Set(["queues", "concurrency", "url", "api-key", "api-key-file", "worker-id", "log-level"]);
const QUEUE_NAME = /^[a-z0-9_.-]{1,64}$/;
const LEVELS = new Set(["debug", "info", "warn", "error"]);

/** Reads a key file; the default reads the file system. */
export type ReadFile = (path: string) => string;

export function parseFlags(
  args: string[],
  env: Record<string, string | undefined>,
  readFile: ReadFile = Deno.readTextFileSync,
): ParsedFlags {
  const values = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") return { kind: "help" };
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!match) {
      return {
        kind: "error",
        message: `unexpected argument ${JSON.stringify(arg)}: flags look like --name=value`,
      };
    }
    const [, name, inline] = match;
    if (!KNOWN.has(name)) return { kind: "error", message: `unknown flag --${name}` };
    let value = inline;
    if (value === undefined) {
      value = args[++i];
      if (value === undefined || value.startsWith("--")) {
        return { kind: "error", message: `--${name} needs a value` };
      }
    }
    if (values.has(name)) return { kind: "error", message: `--${name} is given twice` };
    values.set(name, value);
  }

  const queues = (values.get("queues") ?? "default").split(",").map((q) => q.trim());
  const badQueue = queues.find((q) => !QUEUE_NAME.test(q));
  if (badQueue !== undefined) {
    return {
      kind: "error",
      message: `--queues: ${JSON.stringify(badQueue)} is not a queue name (1–64 of a-z, 0-9, _ . -)`,
    };
  }
  if (queues.length > 32) {
    return { kind: "error", message: `--queues names ${queues.length} queues: at most 32` };
  }
  if (new Set(queues).size !== queues.length) {
    return { kind: "error", message: "--queues names a queue twice" };
  }

  const rawConcurrency = values.get("concurrency") ?? "10";
  const concurrency = /^\d+$/.test(rawConcurrency) ? Number(rawConcurrency) : NaN;
  if (!(concurrency >= 1 && concurrency <= 1000)) {
    return {
      kind: "error",
      message: `--concurrency must be a whole number from 1 to 1000, not ${rawConcurrency}`,
    };
  }

  const url = values.get("url") ?? env.TASKMESH_SERVER_URL ?? DEFAULT_SERVER_URL;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // Reported below.
  }
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    return { kind: "error", message: `--url: ${JSON.stringify(url)} is not an http:// or https:// URL` };
  }

  const key = apiKeyOf(values, env, readFile);
  if ("error" in key) return { kind: "error", message: key.error };
  const { apiKey, apiKeyFrom } = key;

  const workerId = values.get("worker-id");
  if (workerId !== undefined && (workerId.length < 1 || workerId.length > 128)) {
    return { kind: "error", message: "--worker-id must be 1–128 characters" };
  }

  const logLevel = values.get("log-level") ?? env.TASKMESH_LOG_LEVEL ?? "info";
  if (!LEVELS.has(logLevel)) {
    return { kind: "error", message: `--log-level must be debug, info, warn or error, not ${logLevel}` };
  }

  return {
    kind: "run",
    flags: { queues, concurrency, url, apiKey, apiKeyFrom, workerId, logLevel: logLevel as LogLevel },
  };
}

/** The API key from --api-key-file, --api-key, $TASKMESH_API_KEY_FILE or $TASKMESH_API_KEY, in that order. */
function apiKeyOf(
  values: Map<string, string>,
  env: Record<string, string | undefined>,
  readFile: ReadFile,
): { apiKey: string; apiKeyFrom: WorkerFlags["apiKeyFrom"] } | { error: string } {
  if (values.has("api-key") && values.has("api-key-file")) {
    return { error: "--api-key and --api-key-file are both given: pass one" };
  }
  const fromFile = (path: string, what: string) => {
    let text: string;
    try {
      text = readFile(path);
    } catch (error) {
      const why = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
      return { error: `${what}: cannot read ${JSON.stringify(path)} (${why})` };
    }
    const apiKey = text.trim();
    if (!apiKey || /\s/.test(apiKey)) {
      return { error: `${what}: ${JSON.stringify(path)} must hold the API key alone, on one line` };
    }
    return { apiKey, apiKeyFrom: "file" as const };
  };
  const file = values.get("api-key-file");
  if (file !== undefined) return fromFile(file, "--api-key-file");
  const flag = values.get("api-key");
  if (flag !== undefined) {
    return flag ? { apiKey: flag, apiKeyFrom: "flag" } : { error: "--api-key is empty" };
  }
  if (env.TASKMESH_API_KEY_FILE) return fromFile(env.TASKMESH_API_KEY_FILE, "TASKMESH_API_KEY_FILE");
  if (env.TASKMESH_API_KEY) return { apiKey: env.TASKMESH_API_KEY, apiKeyFrom: "env" };
  return {
    error: "no API key: set TASKMESH_API_KEY or TASKMESH_API_KEY_FILE, or pass --api-key-file " +
      "(a key with the worker scope)",
  };
}
