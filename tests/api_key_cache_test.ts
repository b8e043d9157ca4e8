/**
 * Verified API keys are kept in the process (issue 11, item 2): a warm key costs no
 * Postgres statement per call, and the revocation bus still stops a key at once on every
 * instance. Two server instances share one Postgres and one Redis; the key is warm in B's
 * cache when A revokes it, disables its owner or demotes them.
 */
import assert from "node:assert/strict";
import {
  type CallOptions,
  Code,
  ConnectError,
  createClient,
  type StreamRequest,
  type StreamResponse,
} from "@connectrpc/connect";
import { AuthService, Role } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { TaskService } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { hashPassword } from "../server/auth/passwords.ts";
import { as, createAuthTestbed } from "../server/auth/testing.ts";
import { insertUser } from "../server/auth/user_queries.ts";
import { countingPool, createTestDatabase } from "../server/db/testing.ts";
import { insertApiKey } from "../server/auth/api_key_queries.ts";
import { newApiKeySecret } from "../server/auth/api_keys.ts";
import { OpenStreams } from "../server/authz/open_streams.ts";
import { ManualClock } from "../server/clock.ts";
import { API_KEY_CACHE_TTL_MS, VerifiedKeyCache } from "../server/auth/api_key_cache.ts";
import { createRedisRevocationBus } from "../server/authz/revocations.ts";
import { createMemoryLogger } from "../server/log.ts";
import { connectRedis } from "../server/redis/connection.ts";
import { Redis } from "ioredis";
import { bearer } from "./_support/raw_worker.ts";
import { twoInstances } from "./_support/two_instances.ts";
import { TEST_REDIS_URL, type TestServer } from "./_support/server.ts";

const OPTS = { sanitizeOps: false, sanitizeResources: false };

/** An operator's id and access token, straight into the database and signed in on `server`. */
async function operator(server: TestServer) {
  const email = `op-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = "correct horse battery staple";
  const row = await insertUser(server.deps.sql, {
    id: crypto.randomUUID(),
    email,
    displayName: "op",
    passwordHash: await hashPassword(password),
    role: "operator",
    verifiedAt: new Date(),
    now: new Date(),
  });
  const auth = createClient(AuthService, server.connect());
  return { id: row!.id, token: (await auth.login({ email, password })).tokens!.accessToken };
}

async function codeOf(call: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await call;
    return "ok";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

/**
 * Calls until the call answers `code`, and says how long after `since` that was; fails past
 * 1 s. Each try is a round trip to the server, not a sleep.
 */
async function refusedWithin1s(since: number, code: Code, call: () => Promise<unknown>): Promise<number> {
  while (true) {
    const got = await codeOf(call());
    const elapsed = performance.now() - since;
    if (got === code) return elapsed;
    assert.ok(elapsed < 1000, `still answering ${got} ${elapsed} ms after the change`);
  }
}

const listQueues = (server: TestServer, options: CallOptions) =>
  createClient(TaskService, server.grpc()).listQueues({}, options);

Deno.test(
  "a key revoked on one instance is refused within 1 s on another that had it cached",
  OPTS,
  async () => {
    const d = await twoInstances();
    try {
      const auth = createClient(AuthService, d.a.connect());
      const { apiKey, secret } = await auth.createApiKey(
        { name: "reader", scopes: ["tasks:read"] },
        bearer(d.admin),
      );
      await listQueues(d.b, bearer(secret));
      await listQueues(d.a, bearer(secret));
      const cacheB = d.b.app.runtimes.auth.apiKeyCache;
      assert.equal(cacheB.size, 1, "B verified the key and keeps it");
      // Warm: B answers from its cache, even with the key gone from Postgres behind its back.
      const [row] = await d.a.deps.sql`select secret_hash from api_keys where id = ${apiKey!.id}`;
      await d.a.deps.sql`update api_keys set secret_hash = '\\x00' where id = ${apiKey!.id}`;
      assert.equal(await codeOf(listQueues(d.b, bearer(secret))), "ok");
      await d.a.deps.sql`update api_keys set secret_hash = ${row.secret_hash} where id = ${apiKey!.id}`;

      const started = performance.now();
      await auth.revokeApiKey({ id: apiKey!.id }, bearer(d.admin));
      // A heard its own announcement before it answered.
      assert.equal(await codeOf(listQueues(d.a, bearer(secret))), Code.Unauthenticated);
      const elapsed = await refusedWithin1s(
        started,
        Code.Unauthenticated,
        () => listQueues(d.b, bearer(secret)),
      );
      assert.ok(elapsed < 1000);
      assert.equal(cacheB.size, 0);
    } finally {
      await d.close();
    }
  },
);

Deno.test("a key whose owner is disabled is refused within 1 s on both instances", OPTS, async () => {
  const d = await twoInstances();
  try {
    const op = await operator(d.a);
    const { secret } = await createClient(AuthService, d.b.connect()).createApiKey(
      { name: "op reader", scopes: ["tasks:read"] },
      bearer(op.token),
    );
    for (const server of [d.a, d.b]) await listQueues(server, bearer(secret));
    assert.equal(d.a.app.runtimes.auth.apiKeyCache.size, 1);
    assert.equal(d.b.app.runtimes.auth.apiKeyCache.size, 1);

    const started = performance.now();
    await createClient(AuthService, d.a.connect()).disableUser(
      { userId: op.id, reason: "left" },
      bearer(d.admin),
    );
    for (const server of [d.a, d.b]) {
      await refusedWithin1s(started, Code.Unauthenticated, () => listQueues(server, bearer(secret)));
    }
  } finally {
    await d.close();
  }
});

Deno.test(
  "demoting a key's owner narrows the key within 1 s on an instance that had it cached",
  OPTS,
  async () => {
    const d = await twoInstances();
    try {
      const op = await operator(d.a);
      const { secret } = await createClient(AuthService, d.a.connect()).createApiKey(
        { name: "op enqueuer", scopes: ["tasks:enqueue", "tasks:read"] },
        bearer(op.token),
      );
      const enqueue = () =>
        createClient(TaskService, d.b.grpc()).enqueue({ task: { queue: "kc", type: "t" } }, bearer(secret));
      await enqueue();

      const started = performance.now();
      await createClient(AuthService, d.a.connect()).setRole(
        { userId: op.id, role: Role.VIEWER },
        bearer(d.admin),
      );
      await refusedWithin1s(started, Code.PermissionDenied, enqueue);
      // What a viewer may still delegate keeps working.
      assert.equal(await codeOf(listQueues(d.b, bearer(secret))), "ok");
    } finally {
      await d.close();
    }
  },
);

Deno.test("a warm API key costs no Postgres statement per call; refused secrets are never kept", async () => {
  let counting: ReturnType<typeof countingPool> | undefined;
  const tb = await createAuthTestbed({ sql: (url) => (counting = countingPool(url)).sql });
  const { sql: counted, statements } = counting!;
  try {
    const admin = await tb.createUser("admin");
    const session = await tb.login(admin.email, admin.password);
    const { apiKey, secret } = await tb.client.createApiKey(
      { name: "k", scopes: ["tasks:read"] },
      as(session.access),
    );
    const getMe = () => tb.client.getMe({}, as(secret));
    const sent = async (call: () => Promise<unknown>) => {
      statements.length = 0;
      await call();
      return [...statements];
    };

    // Cold: one lookup, and the first use is recorded.
    const cold = await sent(getMe);
    assert.equal(cold.length, 2, cold.join("\n---\n"));
    assert.match(cold[0], /from api_keys k join users u/);
    assert.match(cold[1], /update api_keys set last_used_at/);

    // Warm: a hundred calls, not one statement.
    const warm = await sent(async () => {
      for (let i = 0; i < 100; i++) assert.equal((await getMe()).apiKeyId, apiKey!.id);
    });
    assert.deepEqual(warm, []);

    // Past the TTL the key is looked up again; the last-used time waits for its minute.
    tb.clock.advance(API_KEY_CACHE_TTL_MS);
    const again = await sent(getMe);
    assert.equal(again.length, 1, again.join("\n---\n"));
    assert.match(again[0], /from api_keys k join users u/);
    assert.deepEqual(await sent(getMe), []);

    // Guessed secrets cost a lookup each and are not kept.
    const cache = tb.runtime.apiKeyCache;
    for (let i = 0; i < 20; i++) {
      const guess = `tmk_${crypto.randomUUID().replaceAll("-", "")}${"x".repeat(11)}`;
      assert.equal((await sent(() => tb.client.getMe({}, as(guess)).catch(() => {}))).length, 1);
    }
    assert.equal(cache.size, 1);

    // Revoked: the runtime heard it, so the next call asks Postgres and is refused.
    await tb.client.revokeApiKey({ id: apiKey!.id }, as(session.access));
    assert.equal(cache.size, 0);
    assert.equal(await codeOf(getMe()), Code.Unauthenticated);
  } finally {
    await tb.close();
    await counted.end();
  }
});

/** A key straight into the database, and a stream opened with it that runs until its signal aborts. */
async function openStreamOfKey(sql: TestServer["deps"]["sql"], streams: OpenStreams) {
  const ownerId = (await insertUser(sql, {
    id: crypto.randomUUID(),
    email: `owner-${crypto.randomUUID().slice(0, 8)}@example.com`,
    displayName: "owner",
    passwordHash: "unused",
    role: "admin",
    verifiedAt: new Date(),
    now: new Date(),
  }))!.id;
  const { prefix, hash } = await newApiKeySecret();
  const key = await insertApiKey(sql, {
    id: crypto.randomUUID(),
    ownerId,
    name: "streamer",
    scopes: ["tasks:read"],
    prefix,
    secretHash: hash,
    now: new Date(),
    expiresAt: null,
  });
  const res = await streams.guard(
    { kind: "api_key", keyId: key.id, ownerId, scopes: ["tasks:read"] },
    { signal: new AbortController().signal } as StreamRequest,
    (req) =>
      Promise.resolve({
        // deno-lint-ignore require-yield
        message: (async function* () {
          await new Promise((resolve) => req.signal.addEventListener("abort", resolve));
        })(),
      } as unknown as StreamResponse),
  );
  const ended = (async () => {
    try {
      for await (const _ of res.message) { /* nothing is sent */ }
      return null;
    } catch (error) {
      return ConnectError.from(error);
    }
  })();
  return { keyId: key.id, ended };
}

Deno.test(
  "while the revocation subscription is down, no cached key is trusted; once back, streams are re-checked",
  OPTS,
  async () => {
    const db = await createTestDatabase();
    const log = createMemoryLogger("warn");
    const name = `kc-${crypto.randomUUID().slice(0, 8)}`;
    const prefix = `test:${name}`;
    const redis = connectRedis(TEST_REDIS_URL, { log, name });
    const other = connectRedis(TEST_REDIS_URL, { log });
    const raw = new Redis(TEST_REDIS_URL);
    const bus = createRedisRevocationBus({ redis, prefix, log });
    const announcer = createRedisRevocationBus({ redis: other, prefix, log });
    const cache = new VerifiedKeyCache({ bus });
    // A manual clock that never moves: the periodic re-check never runs on its own.
    const streams = new OpenStreams({ bus, sql: db.sql, clock: new ManualClock(), log });
    const heard: boolean[] = [];
    let wake: (() => void) | undefined;
    bus.watchHearing((hearing) => (heard.push(hearing), wake?.()));
    const until = async (n: number) => {
      while (heard.length < n) await new Promise<void>((r) => wake = r);
    };
    const caller = { kind: "api_key" as const, keyId: "k1", ownerId: "u1", scopes: ["tasks:read"] };
    try {
      await bus.start();
      const stream = await openStreamOfKey(db.sql, streams);
      cache.set("h1", caller, null, cache.epoch, 0);
      assert.equal(cache.get("h1", 0)?.keyId, "k1");

      // Cut the subscriber's connection, as a Redis restart or a network blip would.
      const clients = (await raw.call("CLIENT", "LIST", "TYPE", "pubsub")) as string;
      const id = clients.split("\n").find((line) => line.includes(` name=${name} `))?.match(/^id=(\d+)/)?.[1];
      assert.ok(id, clients);
      await raw.call("CLIENT", "KILL", "ID", id);
      await until(1);
      assert.deepEqual(heard, [false]);
      assert.equal(cache.get("h1", 0), undefined, "what was kept before the gap is gone");
      cache.set("h2", caller, null, cache.epoch, 0);
      assert.equal(cache.get("h2", 0), undefined, "nothing is kept during the gap");
      // Revoked during the gap, its announcement lost: the stream ends as soon as the bus hears again.
      await db.sql`update api_keys set revoked_at = now() where id = ${stream.keyId}`;

      await until(2);
      assert.deepEqual(heard, [false, true]);
      // A guard against a hang, not a wait: the re-check starts as the bus hears again.
      let guard: ReturnType<typeof setTimeout> | undefined;
      const ended = await Promise.race([
        stream.ended,
        new Promise<"not ended">((resolve) => guard = setTimeout(() => resolve("not ended"), 3_000)),
      ]);
      clearTimeout(guard);
      assert.ok(ended instanceof ConnectError, `the stream ended with ${ended}`);
      assert.equal(ended.code, Code.Unauthenticated);
      assert.equal(streams.size, 0);
      cache.set("h3", caller, null, cache.epoch, 0);
      assert.equal(cache.get("h3", 0)?.keyId, "k1");
      // Subscribed again: another instance's announcement arrives.
      const forgotten = new Promise<void>((resolve) => bus.subscribe(() => resolve()));
      await announcer.announce({ kind: "api_key", keyId: "k1" });
      await forgotten;
      assert.equal(cache.get("h3", 0), undefined);
    } finally {
      streams.close();
      cache.close();
      await bus.close();
      await announcer.close();
      redis.disconnect();
      other.disconnect();
      raw.disconnect();
      await db.drop();
    }
  },
);
