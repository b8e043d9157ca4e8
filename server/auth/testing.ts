/**
 * An auth service in-process for tests: a private migrated schema, a manual clock,
 * the real interceptor in front, mails captured (or sent to a real SMTP sink), and
 * helpers to make users and sign them in.
 */
import {
  type CallOptions,
  type Client,
  ConnectError,
  createClient,
  createRouterTransport,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { ManualClock } from "../clock.ts";
import { EnvReader } from "../config.ts";
import type { Sql } from "../db/postgres.ts";
import { createTestDatabase, type TestDatabase } from "../db/testing.ts";
import { createMemoryLogger } from "../log.ts";
import type { EmailMessage, MailConfig } from "../../mail/mod.ts";
import type { RateLimiter } from "../ratelimit/limiter.ts";
import { MemoryRateLimiter } from "../ratelimit/memory_limiter.ts";
import type { RedisMode } from "../redis/connection.ts";
import { remoteAddressKey } from "../request_context.ts";
import type { Role } from "./caller.ts";
import { type AuthConfig, readAuthConfig } from "./config.ts";
import { hashPassword } from "./passwords.ts";
import { type AuthRuntime, createAuthRuntime } from "./runtime.ts";
import { registerAuthServiceWith } from "./service.ts";
import { insertUser, type UserRow } from "./user_queries.ts";

export const TEST_PEER_HEADER = "x-test-peer";

export interface AuthTestbedOptions {
  env?: Record<string, string>;
  clock?: ManualClock;
  limiter?: RateLimiter;
  redis?: RedisMode;
  /** Real mail settings (an SMTP sink); without them mails are only captured. */
  mail?: MailConfig;
  /** More routes on the same router, behind the same interceptor (the matrix test's stubs). */
  routes?: Parameters<typeof createRouterTransport>[0];
  /** The runtime's pool on the testbed's schema instead of the schema's own (a counting pool). */
  sql?: (url: string) => Sql;
}

export interface AuthTestbed {
  db: TestDatabase;
  clock: ManualClock;
  log: ReturnType<typeof createMemoryLogger>;
  config: AuthConfig;
  runtime: AuthRuntime;
  transport: Transport;
  client: Client<typeof AuthService>;
  /** Mails sent so far, when no real mail settings were given. */
  mails: EmailMessage[];
  /** A verified user with this role, straight into the database. */
  createUser(
    role: Role,
    overrides?: { email?: string; password?: string },
  ): Promise<UserRow & { password: string }>;
  /** Logs in through the service; returns the tokens. */
  login(email: string, password: string, peer?: string): Promise<{ access: string; refresh: string }>;
  close(): Promise<void>;
}

/** Call options that send a bearer credential, and optionally pretend to come from another address. */
export function as(credential?: string, peer?: string): CallOptions {
  const headers: Record<string, string> = {};
  if (credential !== undefined) headers.authorization = `Bearer ${credential}`;
  if (peer !== undefined) headers[TEST_PEER_HEADER] = peer;
  return { headers };
}

/** Stands in for the transport's socket address, which an in-process router does not have. */
const testPeer: Interceptor = (next) => (req) => {
  req.contextValues.set(remoteAddressKey, req.header.get(TEST_PEER_HEADER) ?? "127.0.0.1");
  return next(req);
};

export async function createAuthTestbed(options: AuthTestbedOptions = {}): Promise<AuthTestbed> {
  const db = await createTestDatabase();
  const clock = options.clock ?? new ManualClock();
  const log = createMemoryLogger("debug");
  const reader = new EnvReader(options.env ?? {});
  const config = readAuthConfig(reader);
  if (reader.problems.length > 0) throw new Error(reader.problems.join("; "));
  const mails: EmailMessage[] = [];
  const runtime = createAuthRuntime({
    sql: options.sql?.(db.url) ?? db.sql,
    clock,
    log,
    redis: options.redis ?? { kind: "embedded" },
    auth: config,
    mail: options.mail ?? { from: "taskmesh <no-reply@example.com>", outboxDir: "/nonexistent" },
    publicUrl: "http://taskmesh.test",
    limiter: options.limiter ?? new MemoryRateLimiter({ clock }),
    rateLimitPrefix: `t${crypto.randomUUID().slice(0, 8)}`,
    send: options.mail ? undefined : (message) => Promise.resolve(void mails.push(message)),
  });
  const transport = createRouterTransport((router) => {
    registerAuthServiceWith(router, runtime);
    options.routes?.(router);
  }, { router: { interceptors: [testPeer, runtime.interceptor()] } });
  const client = createClient(AuthService, transport);
  let users = 0;

  return {
    db,
    clock,
    log,
    config,
    runtime,
    transport,
    client,
    mails,
    async createUser(role, overrides = {}) {
      const email = overrides.email ?? `${role}${++users}-${crypto.randomUUID().slice(0, 6)}@example.com`;
      const password = overrides.password ?? `correct horse ${crypto.randomUUID()}`;
      const row = await insertUser(db.sql, {
        id: crypto.randomUUID(),
        email,
        displayName: `Test ${role}`,
        passwordHash: await hashPassword(password),
        role,
        verifiedAt: new Date(clock.now()),
        now: new Date(clock.now()),
      });
      if (!row) throw new Error(`test user ${email} exists already`);
      return { ...row, password };
    },
    async login(email, password, peer) {
      const res = await client.login({ email, password }, as(undefined, peer));
      return { access: res.tokens!.accessToken, refresh: res.tokens!.refreshToken };
    },
    async close() {
      await runtime.settled();
      await db.drop();
    },
  };
}

/** The ConnectError a call fails with; throws when the call succeeds. */
export async function rpcError(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail, but it succeeded");
}
