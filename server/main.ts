/**
 * `deno task server`: one server process serving the services in TASKMESH_SERVICES
 * (all by default) on one port, until SIGTERM or SIGINT.
 */
import { startApp } from "./app.ts";
import { systemClock } from "./clock.ts";
import { ConfigError } from "./config.ts";
import { type Config, loadConfig } from "./load_config.ts";
import { createLogger } from "./log.ts";
import { openStorage, StartupError } from "./storage.ts";
import type { Deps } from "./deps.ts";
import type { Runtimes } from "./runtimes.ts";
import { ensureFirstAdmin, type FirstAdminCredentials } from "./auth/first_admin.ts";
import { refoldTagNames } from "./tags/mod.ts";

export interface RunningServer {
  url: string;
  config: Config;
  deps: Deps;
  /** The process's runtimes, built once by startApp. */
  runtimes: Runtimes;
  stop(): Promise<void>;
}

/** Starts a server from an environment; prints the banner. Used by main and by `deno task start`. */
export async function runServer(env: Record<string, string | undefined>): Promise<RunningServer> {
  const config = loadConfig(env);
  const log = createLogger({ level: config.server.logLevel });
  const storage = await openStorage(config.server, log);
  try {
    const deps: Deps = { config, sql: storage.sql, redis: storage.redis, clock: systemClock, log };
    const admin = await ensureFirstAdmin(deps);
    // Name keys stored before migration 0006 that SQL could not fold (server/tags/refold.ts).
    await refoldTagNames(storage.sql, log.child({ component: "tags" }));
    const app = await startApp(deps);
    printBanner(app.url, config, storage.describe, admin);
    return {
      url: app.url,
      config,
      deps,
      runtimes: app.runtimes,
      async stop() {
        await app.shutdown();
        await storage.close();
      },
    };
  } catch (error) {
    await storage.close();
    throw error;
  }
}

function printBanner(
  url: string,
  config: Config,
  storage: string[],
  admin: FirstAdminCredentials | null,
) {
  const embedded = storage.some((line) => line.includes("EMBEDDED"));
  const lines = [
    "",
    `  taskmesh ${embedded ? "— EMBEDDED MODE (single machine, for trying it out)" : "— connected mode"}`,
    "",
    `  listening ${url}  (gRPC, gRPC-Web and Connect on one port)`,
    `  web app   ${url}/  (members sign up, verify, follow tags)`,
    `  services  ${config.server.services.join(", ")}  + grpc.health.v1, grpc.reflection.v1`,
    ...storage.map((line) => `  ${line}`),
    "",
    ...(admin
      ? [
        admin.replaced
          ? `  FIRST ADMIN ${admin.email} never signed in: its earlier one-time password no longer works`
          : `  FIRST ADMIN created: ${admin.email}`,
        `  one-time password:  ${admin.password}`,
        "  (shown once, never again: it allows only ChangePassword. Sign in at",
        `   ${url}/login and the web app asks for a new one; or call AuthService/ChangePassword,`,
        "   or create another admin with deno task admin:create)",
        "",
      ]
      : []),
    `  try:  npx @bufbuild/buf curl --protocol grpc --http2-prior-knowledge ${url} --list-methods`,
    "",
  ];
  console.error(lines.join("\n"));
}

/** Resolves on the first SIGTERM or SIGINT. */
export function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const signals = ["SIGTERM", "SIGINT"] as const;
    const handlers = signals.map((signal) => {
      const handler = () => {
        signals.forEach((s, i) => Deno.removeSignalListener(s, handlers[i]));
        resolve(signal);
      };
      Deno.addSignalListener(signal, handler);
      return handler;
    });
  });
}

if (import.meta.main) {
  let server: RunningServer;
  try {
    server = await runServer(Deno.env.toObject());
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`taskmesh: ${error.message}`);
      Deno.exit(2);
    }
    if (error instanceof StartupError) {
      console.error(`taskmesh: ${error.message}`);
      Deno.exit(1);
    }
    console.error("taskmesh: failed to start:", error);
    Deno.exit(1);
  }
  const signal = await waitForSignal();
  console.error(`taskmesh: ${signal} received, shutting down`);
  await server.stop();
  Deno.exit(0);
}
