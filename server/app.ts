/**
 * The server: Connect router with every configured service, interceptors in their
 * written order, plain HTTP routes, one listener, and the shutdown sequence.
 *
 * Interceptor order (outermost first): the trace span (when OTEL_DENO=true) → rpc log + metrics → lifecycle (refuse while
 * draining) → dependencies (Unavailable while Postgres or Redis is down) →
 * authentication and the authorization table → the shape every request field
 * must have (server/kit/request_shape.ts) → any extra.
 */
import { type ConnectRouter, createContextValues, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import type { Deps } from "./deps.ts";
import { HealthRegistry, registerHealth, ServingStatus } from "./health/health.ts";
import { DependencyMonitor, postgresProbe, redisProbe } from "./health/dependencies.ts";
import { healthRoutes } from "./health/http.ts";
import { Lifecycle } from "./lifecycle.ts";
import { systemClock } from "./clock.ts";
import { listen, type Listener } from "./listen.ts";
import { capDeadlineHeaders } from "./deadline_cap.ts";
import { createStreamHeadersInterceptor, nodeResponseKey } from "./stream_headers.ts";
import { answerUnknownMethod } from "./unknown_method.ts";
import { createServerMetrics, type ServerMetrics } from "./observability/metrics.ts";
import { createRpcInterceptor } from "./observability/rpc_interceptor.ts";
import { createTracingInterceptor, TRACING } from "./observability/tracing.ts";
import { authMetrics } from "./observability/auth_metrics.ts";
import { observeProcess } from "./observability/process_metrics.ts";
import { registerReflection } from "./reflection/mod.ts";
import { remoteAddressKey } from "./request_context.ts";
import { registerUnimplemented, SERVICE_MODULES } from "./services.ts";
import { composeRuntimes, type Runtimes } from "./runtimes.ts";
import { WEB_DIST } from "./web/paths.ts";
import { createWebHandler } from "./web/pages.ts";
import { createRequestShapeInterceptor } from "./kit/request_shape.ts";
import {
  corsHeaders,
  handleHttpRoute,
  type HttpRoute,
  type NodeRequest,
  type NodeResponse,
  rpcGetHeaders,
} from "./http_routes.ts";

export interface AppOptions {
  /** Interceptors placed after authentication. */
  interceptors?: Interceptor[];
  /**
   * Authentication and the authorization table (default true). Only tests of transport
   * mechanics turn it off, to call test services without credentials.
   */
  authenticate?: boolean;
  /** Extra routes, e.g. test-only services. */
  extraRoutes?: (router: ConnectRouter) => void;
  /** Extra plain HTTP routes (GET), by path. */
  httpRoutes?: Record<string, HttpRoute>;
  /** The built member web app served at / (default web/dist/). */
  webDist?: URL;
}

export interface App {
  readonly port: number;
  readonly url: string;
  readonly health: HealthRegistry;
  readonly metrics: ServerMetrics;
  readonly lifecycle: Lifecycle;
  /** The process's auth and task runtimes, built once by startApp (server/runtimes.ts). */
  readonly runtimes: Runtimes;
  /** Runs the shutdown sequence; safe to call more than once. */
  shutdown(): Promise<void>;
}

export async function startApp(deps: Deps, options: AppOptions = {}): Promise<App> {
  const { config, log } = deps;
  const modules = config.server.services.map((name) => SERVICE_MODULES[name]);
  // Built once for the process, here, and passed to every module that needs them.
  const metrics = createServerMetrics(deps.clock.now());
  const runtimes = composeRuntimes(deps, authMetrics(metrics.registry));
  observeProcess(metrics.registry, deps, runtimes.tasks, runtimes.campaigns);
  const descs: DescService[] = modules.flatMap((m) => m.descs);
  // A service still to be built answers Unimplemented to every method: NOT_SERVING, and left out of "".
  const served = (m: (typeof modules)[number]) =>
    m.register !== undefined && m.available?.(runtimes) !== false;
  const unbuilt = modules.filter((m) => !served(m)).flatMap((m) => m.descs.map((d) => d.typeName));
  const health = new HealthRegistry(descs.map((d) => d.typeName), unbuilt);
  const lifecycle = new Lifecycle();
  const dependencies = new DependencyMonitor({
    probes: [
      ...(config.server.databaseUrl ? [postgresProbe(config.server.databaseUrl)] : []),
      ...(deps.redis.kind === "redis" ? [redisProbe(deps.redis.client)] : []),
    ],
    health,
    intervalMs: config.server.dependencyCheckMs,
    clock: systemClock,
    log,
  });

  const routes = (router: ConnectRouter) => {
    registerHealth(router, health, lifecycle.drainSignal);
    registerReflection(router, [Health, ...descs]);
    for (const module of modules) {
      if (served(module)) module.register!(router, deps, runtimes);
      else for (const desc of module.descs) registerUnimplemented(router, desc, module.arrivesWith);
    }
    options.extraRoutes?.(router);
  };

  const auth = runtimes.auth;
  const httpRoutes: Record<string, HttpRoute> = {
    "/.well-known/jwks.json": auth.jwksRoute,
    "/metrics": async () => ({
      status: 200,
      type: "text/plain; version=0.0.4",
      body: await metrics.registry.scrape(),
    }),
    ...healthRoutes(health, dependencies, () => lifecycle.draining),
    ...runtimes.campaigns?.getRoutes,
    ...options.httpRoutes,
  };
  // Routes that take a POST without authentication: the one-click unsubscribe (RFC 8058).
  const postRoutes: Record<string, HttpRoute> = { ...runtimes.campaigns?.postRoutes };

  const web = createWebHandler(options.webDist ?? WEB_DIST);
  // The node response of each request, for interceptors that write to it (stream_headers.ts).
  const responses = new WeakMap<NodeRequest, NodeResponse>();
  const connectHandler = connectNodeAdapter({
    routes,
    interceptors: [
      createStreamHeadersInterceptor(),
      // Outside the log line, so the line carries the RPC span's ids.
      ...(TRACING ? [createTracingInterceptor()] : []),
      createRpcInterceptor({ log, metrics }),
      lifecycle.interceptor(),
      dependencies.interceptor(),
      ...(options.authenticate === false ? [] : [auth.interceptor()]),
      createRequestShapeInterceptor(),
      ...(options.interceptors ?? []),
    ],
    readMaxBytes: config.server.maxMessageBytes,
    writeMaxBytes: config.server.maxMessageBytes,
    maxTimeoutMs: config.server.maxTimeoutMs,
    shutdownSignal: lifecycle.shutdownSignal,
    contextValues: (req) =>
      createContextValues()
        .set(remoteAddressKey, req.socket?.remoteAddress ?? "")
        .set(nodeResponseKey, responses.get(req)),
    fallback: async (req, res) => {
      // An RPC to a method nobody serves gets its protocol's Unimplemented; pages and plain routes the rest.
      if (answerUnknownMethod(req, res)) return;
      if (!(await web(req, res))) await handleHttpRoute(httpRoutes, req, res, postRoutes);
    },
  });

  const handler = (req: NodeRequest, res: NodeResponse) => {
    const getHeaders = rpcGetHeaders(req);
    if (getHeaders) { for (const [name, value] of Object.entries(getHeaders)) res.setHeader(name, value); }
    const cors = corsHeaders(config.server.corsOrigins, req);
    if (cors) {
      for (const [name, value] of Object.entries(cors)) res.setHeader(name, value);
      if (req.method === "OPTIONS") {
        res.writeHead(204);
        res.end();
        return;
      }
    }
    capDeadlineHeaders(req.headers, config.server.maxTimeoutMs);
    responses.set(req, res);
    connectHandler(req, res);
  };

  let tls: { cert: string; key: string } | undefined;
  if (config.server.tlsCertFile && config.server.tlsKeyFile) {
    tls = {
      cert: await Deno.readTextFile(config.server.tlsCertFile),
      key: await Deno.readTextFile(config.server.tlsKeyFile),
    };
  }
  await auth.start();
  for (const module of modules) await module.start?.(runtimes);
  const listener: Listener = await listen({
    host: config.server.host,
    port: config.server.port,
    handler,
    tls,
    log,
    limits: config.server.transport,
    metrics: metrics.registry,
  });
  health.setAll(ServingStatus.SERVING);
  dependencies.start();
  const scheme = tls ? "https" : "http";
  const url = `${scheme}://${
    config.server.host === "0.0.0.0" ? "127.0.0.1" : config.server.host
  }:${listener.port}`;
  log.info("listening", { url, services: descs.map((d) => d.typeName) });

  let shuttingDown: Promise<void> | undefined;
  const shutdown = () =>
    shuttingDown ??= (async () => {
      log.info("shutting down", { grace_ms: config.server.shutdownGraceMs });
      // Stopped first so no probe sets a service SERVING again; awaited once calls are over.
      const dependenciesStopped = dependencies.stop();
      health.setAll(ServingStatus.NOT_SERVING);
      lifecycle.beginDrain();
      listener.stopAccepting();
      const finished = await lifecycle.waitForUnary(config.server.shutdownGraceMs, systemClock);
      if (!finished) {
        log.warn("grace period over: aborting calls still in flight", { in_flight: lifecycle.inFlightUnary });
      }
      // Drained streams end on their own; anything still running now is cut, and gets a
      // moment to write its final status.
      if (!finished || !(await lifecycle.waitForAll(1000, systemClock))) {
        lifecycle.abortRemaining();
        await lifecycle.waitForAll(1000, systemClock);
      }
      // No HTTP/2 GOAWAY here: measured under Deno 2.9, a GOAWAY (close() or goaway()) sent while
      // the last responses were still in flight made the client drop them ("Premature close").
      // Refusing new calls with Unavailable does the same job; connections are cut once every
      // response has been handed over and the bytes have had a moment to leave.
      await within(1000, listener.idle());
      await within(1000, listener.closed);
      listener.destroyAll();
      await listener.closed;
      await auth.settled();
      await auth.close();
      await dependenciesStopped;
      for (const module of modules) await module.stop?.(runtimes);
      log.info("stopped");
    })();

  /**
   * Waits for `p`, but no longer than `ms` of wall time. Grace periods are operational, not part
   * of the domain: they run on the system clock even when tests inject a manual one.
   */
  async function within(ms: number, p: Promise<void>): Promise<void> {
    const timer = new AbortController();
    await Promise.race([p, systemClock.sleep(ms, timer.signal).catch(() => {})]);
    timer.abort();
  }

  return { port: listener.port, url, health, metrics, lifecycle, runtimes, shutdown };
}
