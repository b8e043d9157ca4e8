/**
 * The dependency monitor: probes Postgres and Redis on a loop of its own, drives the
 * health of each gRPC service from what that service needs, and lets calls fail fast
 * with Unavailable while a dependency they need is down (see `interceptor()`).
 *
 * Each probe has a connection of its own, so a busy pool (every connection taken by a
 * burst of enqueues) is never mistaken for a database that is gone; a probe that does not
 * answer in time has its connection dropped and a new one opened the next time.
 */
import {
  Code,
  ConnectError,
  type Interceptor,
  type StreamResponse,
  type UnaryResponse,
} from "@connectrpc/connect";
import type { Clock } from "../clock.ts";
import { connectPostgres, type Sql } from "../db/postgres.ts";
import type { Logger } from "../log.ts";
import { type Loop, startLoop } from "../loop.ts";
import { BROKER_UNAVAILABLE, DATABASE_UNAVAILABLE } from "../observability/rpc_interceptor.ts";
import { pingRedis, type Redis } from "../redis/connection.ts";
import { type HealthRegistry, ServingStatus } from "./health.ts";

export type Dependency = "postgres" | "redis";

/**
 * What each gRPC service cannot answer without. A task that is enqueued needs only Postgres
 * (the broker catches up from it); a worker stream claims and leases in the broker too.
 * Health and reflection need nothing.
 */
export const SERVICE_DEPENDENCIES: Readonly<Record<string, readonly Dependency[]>> = {
  "taskmesh.auth.v1.AuthService": ["postgres"],
  "taskmesh.tags.v1.TagService": ["postgres"],
  "taskmesh.campaigns.v1.CampaignService": ["postgres"],
  "taskmesh.tasks.v1.TaskService": ["postgres"],
  "taskmesh.tasks.v1.WorkerService": ["postgres", "redis"],
};

const MESSAGES: Record<Dependency, string> = {
  postgres: DATABASE_UNAVAILABLE,
  redis: BROKER_UNAVAILABLE,
};

/** A probe got no answer in time (rather than a refusal). */
export class ProbeTimeout extends Error {
  override name = "ProbeTimeout";
}

/** One dependency's check: resolves when it answers, rejects otherwise (ProbeTimeout when silent). */
export interface Probe {
  readonly name: Dependency;
  check(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface DependencyMonitorOptions {
  probes: Probe[];
  health: HealthRegistry;
  intervalMs: number;
  clock: Clock;
  log: Logger;
}

export class DependencyMonitor {
  readonly #probes: Probe[];
  readonly #health: HealthRegistry;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #down = new Set<Dependency>();
  /** Services this monitor set NOT_SERVING, to set SERVING again when their dependencies are back. */
  readonly #turnedOff = new Set<string>();
  /** Unary calls in flight, each told when a dependency goes down. */
  readonly #watchers = new Set<() => void>();
  #loop?: Loop;
  #stopped = false;

  constructor(options: DependencyMonitorOptions) {
    this.#probes = options.probes;
    this.#health = options.health;
    this.#intervalMs = options.intervalMs;
    this.#clock = options.clock;
    // Not rate-limited: only changes are logged, and each one matters to an operator.
    this.#log = options.log.child({ component: "dependencies" });
  }

  /** How long a probe may take: the interval, within 0.5–2 s. */
  get probeTimeoutMs(): number {
    return Math.min(2000, Math.max(500, this.#intervalMs));
  }

  isUp(dependency: Dependency): boolean {
    return !this.#down.has(dependency);
  }

  /** Every dependency and whether it answered its last probe. */
  states(): Record<string, "up" | "down"> {
    return Object.fromEntries(this.#probes.map((p) => [p.name, this.isUp(p.name) ? "up" : "down"]));
  }

  start(): void {
    this.#loop = startLoop(
      "dependency-check",
      { intervalMs: this.#intervalMs, clock: this.#clock, log: this.#log },
      () => this.checkOnce(),
    );
  }

  /** Stops probing; the health it set stays as it is (shutdown sets it next). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop?.stop();
    await Promise.all(this.#probes.map((p) => p.close().catch(() => {})));
  }

  /**
   * Probes every dependency once, at the same time, and applies what changed. A probe that
   * only timed out on a dependency that was up is tried once more at once: a stalled event
   * loop (or one slow answer) must not take a service down, two silences in a row do.
   */
  async checkOnce(): Promise<void> {
    await Promise.all(this.#probes.map(async (probe) => {
      let failure = await this.#probe(probe);
      if (failure instanceof ProbeTimeout && this.isUp(probe.name) && !this.#stopped) {
        failure = await this.#probe(probe);
      }
      if (!this.#stopped) this.#set(probe.name, failure);
    }));
  }

  async #probe(probe: Probe): Promise<unknown> {
    try {
      await probe.check(this.probeTimeoutMs);
      return undefined;
    } catch (error) {
      return error;
    }
  }

  #set(name: Dependency, failure: unknown): void {
    const wasUp = this.isUp(name);
    if (failure === undefined && !wasUp) {
      this.#down.delete(name);
      this.#log.info(`${name} is back: its services serve again`, { dependency: name });
    } else if (failure !== undefined && wasUp) {
      this.#down.add(name);
      this.#log.warn(`${name} is unavailable: its services answer Unavailable until it is back`, {
        dependency: name,
        error: String(failure),
      });
      for (const check of this.#watchers) check();
    } else return;
    // Only what this monitor turned off is turned back on: a service NOT_SERVING for another
    // reason (not built yet, draining) stays so.
    for (const [service, needs] of Object.entries(SERVICE_DEPENDENCIES)) {
      const status = this.#health.get(service);
      if (status === undefined) continue;
      const serving = needs.every((d) => this.isUp(d));
      if (!serving && status === ServingStatus.SERVING) {
        this.#turnedOff.add(service);
        this.#health.set(service, ServingStatus.NOT_SERVING);
      } else if (serving && this.#turnedOff.delete(service)) {
        this.#health.set(service, ServingStatus.SERVING);
      }
    }
  }

  /** The error for a call that needs a dependency that is down, or undefined when all are up. */
  #unavailable(needs: readonly Dependency[]): ConnectError | undefined {
    const down = needs.find((d) => !this.isUp(d));
    return down ? new ConnectError(MESSAGES[down], Code.Unavailable) : undefined;
  }

  /**
   * Fails a call at once with Unavailable while a dependency its service needs is down,
   * and ends a unary call still waiting when one goes down (or its deadline passes), so a
   * call never waits on a database that went silent.
   */
  interceptor(): Interceptor {
    return (next) => (req) => {
      // Nothing probed (embedded mode): nothing to wait for.
      const needs = this.#probes.length === 0 ? [] : SERVICE_DEPENDENCIES[req.service.typeName] ?? [];
      if (needs.length === 0) return next(req);
      const refused = this.#unavailable(needs);
      if (refused) return Promise.reject(refused);
      if (req.stream) return next(req);
      // One promise and two registrations per call, both undone the moment it settles: this
      // runs on every unary call, so no AbortController (whose abort() builds a DOMException).
      const signal = req.signal;
      return new Promise<UnaryResponse | StreamResponse>((resolve, reject) => {
        let settled = false;
        const settle = (error: unknown, res?: UnaryResponse | StreamResponse) => {
          if (settled) return;
          settled = true;
          this.#watchers.delete(check);
          signal.removeEventListener("abort", onAbort);
          if (res) resolve(res);
          else reject(error);
        };
        const check = () => {
          const error = this.#unavailable(needs);
          if (error) settle(error);
        };
        const onAbort = () => {
          const reason = signal.reason;
          settle(
            reason instanceof ConnectError
              ? reason
              : new ConnectError("the call was cancelled", Code.Canceled),
          );
        };
        this.#watchers.add(check);
        signal.addEventListener("abort", onAbort);
        try {
          next(req).then((res) => settle(undefined, res), (error) => settle(error));
        } catch (error) {
          settle(error);
        }
      });
    };
  }
}

/** Probes Postgres with `select 1` on a one-connection pool of its own. */
export function postgresProbe(url: string): Probe {
  let sql: Sql | undefined;
  return {
    name: "postgres",
    async check(timeoutMs) {
      sql ??= connectPostgres(url, { max: 1, connectTimeoutS: Math.max(1, Math.ceil(timeoutMs / 1000)) });
      const current = sql;
      try {
        await withTimeout(current`select 1`, timeoutMs, "Postgres");
      } catch (error) {
        // A connection that did not answer may never answer: the next probe opens a new one.
        if (sql === current) sql = undefined;
        current.end({ timeout: 0 }).catch(() => {});
        throw error;
      }
    },
    async close() {
      await sql?.end({ timeout: 0 });
    },
  };
}

/** Probes Redis with PING on a connection of its own (a duplicate of the server's). */
export function redisProbe(source: Redis): Probe {
  let redis: Redis | undefined;
  return {
    name: "redis",
    async check(timeoutMs) {
      if (!redis) {
        redis = source.duplicate({ connectionName: "taskmesh-probe", keyPrefix: "" });
        // What goes wrong is in the probe's answer; ioredis would print each error itself.
        redis.on("error", () => {});
      }
      const current = redis;
      if (await pingRedis(current, timeoutMs)) return;
      if (redis === current) redis = undefined;
      current.disconnect();
      throw new ProbeTimeout(`Redis did not answer PING within ${timeoutMs} ms`);
    },
    close() {
      redis?.disconnect();
      return Promise.resolve();
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
