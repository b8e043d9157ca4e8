/**
 * grpc.health.v1: the serving status of the whole server ("") and of each service,
 * with Watch streams that see every change. Shutdown flips everything to
 * NOT_SERVING before anything else stops, so load balancers drain first.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  Health,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as Status,
  HealthCheckResponseSchema,
} from "../../gen/grpc/health/v1/health_pb.ts";

export { Status as ServingStatus };

type Listener = (status: Status) => void;

export class HealthRegistry {
  #statuses = new Map<string, Status>();
  #listeners = new Map<string, Set<Listener>>();
  /** Services whose every method answers Unimplemented: always NOT_SERVING, and not part of "". */
  readonly #unbuilt: ReadonlySet<string>;

  constructor(services: readonly string[], unbuilt: readonly string[] = []) {
    this.#unbuilt = new Set(unbuilt);
    this.#statuses.set("", Status.NOT_SERVING);
    for (const name of services) this.#statuses.set(name, Status.NOT_SERVING);
  }

  get(service: string): Status | undefined {
    return this.#statuses.get(service);
  }

  /** Sets one service's status; the overall status is SERVING only when every service is. */
  set(service: string, status: Status): void {
    this.#update(service, status);
    if (service !== "") {
      const all = [...this.#statuses].filter(([name]) => name !== "" && !this.#unbuilt.has(name))
        .every(([, s]) => s === Status.SERVING);
      this.#update("", all ? Status.SERVING : Status.NOT_SERVING);
    }
  }

  setAll(status: Status): void {
    for (const name of this.#statuses.keys()) if (!this.#unbuilt.has(name)) this.#update(name, status);
  }

  #update(service: string, status: Status) {
    if (this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    for (const listener of this.#listeners.get(service) ?? []) listener(status);
  }

  /**
   * Yields the current status, then each change, until `signal` aborts. When `end`
   * aborts (the server drains) the stream ends after yielding the latest status, so a
   * watcher always sees NOT_SERVING before the stream closes.
   */
  async *watch(service: string, signal: AbortSignal, end?: AbortSignal): AsyncGenerator<Status> {
    // Only the latest status matters to a watcher, so the buffer is one slot.
    let pending: Status | undefined = this.#statuses.get(service) ?? Status.SERVICE_UNKNOWN;
    let wake: (() => void) | undefined;
    const listener: Listener = (status) => {
      pending = status;
      wake?.();
    };
    const onAbort = () => wake?.();
    let set = this.#listeners.get(service);
    if (!set) this.#listeners.set(service, set = new Set());
    set.add(listener);
    signal.addEventListener("abort", onAbort);
    end?.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        if (pending !== undefined) {
          const status: Status = pending;
          pending = undefined;
          yield status;
          continue;
        }
        if (end?.aborted) return;
        await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
      }
    } finally {
      set.delete(listener);
      signal.removeEventListener("abort", onAbort);
      end?.removeEventListener("abort", onAbort);
    }
  }
}

function response(status: Status): HealthCheckResponse {
  return create(HealthCheckResponseSchema, { status });
}

export function registerHealth(router: ConnectRouter, registry: HealthRegistry, drain?: AbortSignal): void {
  router.service(Health, {
    check(req) {
      const status = registry.get(req.service);
      if (status === undefined) {
        throw new ConnectError(
          `unknown service "${req.service}": ask for "" or a service this server runs`,
          Code.NotFound,
        );
      }
      return response(status);
    },
    async *watch(req, ctx) {
      for await (const status of registry.watch(req.service, ctx.signal, drain)) yield response(status);
      // Ended by the call's own signal (its deadline, or the client gone): say why, not OK.
      ctx.signal.throwIfAborted();
    },
  });
}
