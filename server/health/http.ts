/**
 * Health over plain HTTP, for probes that do not speak gRPC (Kubernetes, load balancers):
 *   - /livez: 200 while the process runs and answers; a restart would not help otherwise.
 *   - /readyz: 503 while draining or while Postgres (which every service needs) is down;
 *     200 otherwise, Redis down included (enqueues, reads and sign-ins still work). The
 *     body names each dependency's state.
 *   - /healthz: the overall grpc.health.v1 status: 200 only when every service serves.
 */
import type { HttpRoute } from "../http_routes.ts";
import type { DependencyMonitor } from "./dependencies.ts";
import { type HealthRegistry, ServingStatus } from "./health.ts";

export function healthRoutes(
  health: HealthRegistry,
  monitor: DependencyMonitor,
  draining: () => boolean,
): Record<string, HttpRoute> {
  const text = (status: number, body: string) => ({ status, type: "text/plain", body });
  return {
    "/livez": () => text(200, "alive\n"),
    "/readyz": () => {
      const states = Object.entries(monitor.states()).map(([name, state]) => `${name} ${state}\n`).join("");
      if (draining()) return text(503, "not ready: shutting down\n" + states);
      if (!monitor.isUp("postgres")) return text(503, "not ready: postgres is down\n" + states);
      return text(200, "ready\n" + states);
    },
    "/healthz": () => {
      const serving = health.get("") === ServingStatus.SERVING;
      return text(serving ? 200 : 503, serving ? "serving\n" : "not serving\n");
    },
  };
}
