/**
 * Configuration from the environment, validated before anything listens. Every
 * variable is read through an EnvReader so that all problems are reported at once,
 * each naming the variable and what it expects.
 */
import type { LogLevel } from "./log.ts";
import { DEFAULT_LIMITS, type TransportLimits } from "./listen.ts";

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Reads typed values from an env map, collecting every problem instead of stopping at the first. */
export class EnvReader {
  readonly problems: string[] = [];
  constructor(readonly env: Env) {}

  #raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === "" ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.#raw(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.#raw(name);
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw) || n < min || n > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.#raw(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (["1", "true", "yes", "on"].includes(raw)) return true;
    if (["0", "false", "no", "off"].includes(raw)) return false;
    this.problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    if (!allowed.includes(raw as T)) {
      this.problems.push(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
      return fallback;
    }
    return raw as T;
  }

  list<T extends string>(name: string, fallback: readonly T[], allowed?: readonly T[]): T[] {
    const raw = this.#raw(name);
    if (raw === undefined) return [...fallback];
    const items = raw.split(",").map((s) => s.trim()).filter(Boolean) as T[];
    const bad = allowed ? items.filter((i) => !allowed.includes(i)) : [];
    if (bad.length > 0 || items.length === 0) {
      this.problems.push(
        `${name} must be a comma-separated list${allowed ? ` of ${allowed.join(", ")}` : ""}, got "${raw}"`,
      );
      return [...fallback];
    }
    return [...new Set(items)];
  }

  url(name: string, protocols: readonly string[]): string | undefined {
    const raw = this.#raw(name);
    if (raw === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      this.problems.push(`${name} must be a URL (${protocols.join(" or ")}), got "${redact(raw)}"`);
      return undefined;
    }
    if (!protocols.includes(parsed.protocol)) {
      this.problems.push(`${name} must use ${protocols.join(" or ")}, got "${parsed.protocol}"`);
      return undefined;
    }
    return raw;
  }

  /** A path to a file that must exist and be readable. */
  file(name: string): string | undefined {
    const raw = this.#raw(name);
    if (raw === undefined) return undefined;
    try {
      if (!Deno.statSync(raw).isFile) throw new Error("not a file");
    } catch {
      this.problems.push(`${name} must name a readable file, got "${raw}"`);
      return undefined;
    }
    return raw;
  }

  /** Records a problem found by a cross-field check. */
  problem(message: string): void {
    this.problems.push(message);
  }
}

/** Hides the password of a URL before it is printed. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]+@/, ":***@");
  }
}

export const ALL_SERVICES = ["auth", "tags", "campaigns", "tasks"] as const;
export type ServiceName = typeof ALL_SERVICES[number];

export interface ServerConfig {
  host: string;
  port: number;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Which taskmesh services this process serves; health and reflection are always on. */
  services: ServiceName[];
  databaseUrl?: string;
  redisUrl?: string;
  /** Where embedded data (PGlite) and the mail outbox live. */
  dataDir: string;
  /** The URL people reach this system at, for links in mails. */
  publicUrl: string;
  logLevel: LogLevel;
  /** Largest message accepted or sent, in bytes. */
  maxMessageBytes: number;
  /** Longest deadline a client may ask for. */
  maxTimeoutMs: number;
  /** How long in-flight calls get to finish after SIGTERM. */
  shutdownGraceMs: number;
  /** Origins allowed to call from browsers ("*" allows any). */
  corsOrigins: string[];
  /** How often Postgres and Redis are probed for health and readiness. */
  dependencyCheckMs: number;
  /** Timeouts and caps of the transport (server/listen.ts). */
  transport: TransportLimits;
}

export function readServerConfig(r: EnvReader): ServerConfig {
  const host = r.string("TASKMESH_HOST", "127.0.0.1");
  const port = r.int("TASKMESH_PORT", 8080, 0, 65535);
  const tlsCertFile = r.file("TASKMESH_TLS_CERT_FILE");
  const tlsKeyFile = r.file("TASKMESH_TLS_KEY_FILE");
  if ((r.env.TASKMESH_TLS_CERT_FILE ? 1 : 0) + (r.env.TASKMESH_TLS_KEY_FILE ? 1 : 0) === 1) {
    r.problem("TASKMESH_TLS_CERT_FILE and TASKMESH_TLS_KEY_FILE must be set together");
  }
  return {
    host,
    port,
    tlsCertFile,
    tlsKeyFile,
    services: r.list("TASKMESH_SERVICES", ALL_SERVICES, ALL_SERVICES),
    databaseUrl: r.url("DATABASE_URL", ["postgres:", "postgresql:"]),
    redisUrl: r.url("REDIS_URL", ["redis:", "rediss:"]),
    dataDir: r.string("TASKMESH_DATA_DIR", ".data"),
    publicUrl: r.url("TASKMESH_PUBLIC_URL", ["http:", "https:"]) ??
      `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`,
    logLevel: r.oneOf("TASKMESH_LOG_LEVEL", "info", ["debug", "info", "warn", "error"] as const),
    maxMessageBytes: r.int("TASKMESH_MAX_MESSAGE_BYTES", 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxTimeoutMs: r.int("TASKMESH_MAX_TIMEOUT_MS", 5 * 60_000, 1000, 24 * 3600_000),
    shutdownGraceMs: r.int("TASKMESH_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    corsOrigins: corsOrigins(r),
    dependencyCheckMs: r.int("TASKMESH_DEPENDENCY_CHECK_MS", 1000, 100, 60_000),
    transport: readTransportLimits(r),
  };
}

/**
 * `*`, or origins exactly as browsers send them: a browser's Origin has no path, so
 * `https://app.example.com/` (trailing slash) would never match and refuse every call.
 */
function corsOrigins(r: EnvReader): string[] {
  const origins = r.list("TASKMESH_CORS_ORIGINS", ["*"]);
  const bad = origins.filter((o) => {
    if (o === "*") return false;
    try {
      const url = new URL(o);
      return !["http:", "https:"].includes(url.protocol) || url.origin !== o;
    } catch {
      return true;
    }
  });
  for (const o of bad) {
    r.problem(
      `TASKMESH_CORS_ORIGINS entries must be origins like https://app.example.com (scheme, host and port, no path or trailing slash) or *, got "${o}"`,
    );
  }
  return origins.filter((o) => !bad.includes(o));
}

function readTransportLimits(r: EnvReader): TransportLimits {
  const d = DEFAULT_LIMITS;
  const limits = {
    firstByteTimeoutMs: r.int("TASKMESH_FIRST_BYTE_TIMEOUT_MS", d.firstByteTimeoutMs, 100, 600_000),
    http1HeadersTimeoutMs: r.int("TASKMESH_HTTP1_HEADERS_TIMEOUT_MS", d.http1HeadersTimeoutMs, 100, 600_000),
    http2IdleTimeoutMs: r.int("TASKMESH_HTTP2_IDLE_TIMEOUT_MS", d.http2IdleTimeoutMs, 100, 86_400_000),
    maxConnections: r.int("TASKMESH_MAX_CONNECTIONS", d.maxConnections, 1, 1_000_000),
    maxConnectionsPerAddress: r.int(
      "TASKMESH_MAX_CONNECTIONS_PER_ADDRESS",
      d.maxConnectionsPerAddress,
      1,
      1_000_000,
    ),
  };
  // One address can never hold more than all connections together.
  limits.maxConnectionsPerAddress = Math.min(limits.maxConnectionsPerAddress, limits.maxConnections);
  return limits;
}
