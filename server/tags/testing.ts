/**
 * Test support for the tag service: a private migrated schema, the service in-process behind
 * createRouterTransport, and one client per caller. The caller is put on the context by a
 * tiny interceptor standing in for the authentication interceptor, so these tests exercise
 * the service, not the authorization table.
 */
import assert from "node:assert/strict";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type Interceptor,
} from "@connectrpc/connect";
import { type Caller, callerKey, type Role } from "../auth/caller.ts";
import { ManualClock } from "../clock.ts";
import { createTestDatabase, type TestDatabase } from "../db/testing.ts";
import type { Sql } from "../db/postgres.ts";
import { createMemoryLogger, type Logger } from "../log.ts";
import { TagService } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { createTagServiceImpl, type TagServiceOptions } from "./service.ts";

export type TagClient = Client<typeof TagService>;

export interface TagHarness {
  db: TestDatabase;
  sql: Sql;
  clock: ManualClock;
  log: Logger & { lines: Record<string, unknown>[] };
  /** A client whose calls carry `caller`. */
  clientAs(caller: Caller): TagClient;
  /** A client for a signed-in user with a fresh id (or the given one). */
  clientFor(role: Role, userId?: string): { client: TagClient; userId: string };
  close(): Promise<void>;
}

/** The interceptor the test transport uses in place of authentication. */
export function setCallerInterceptor(caller: Caller): Interceptor {
  return (next) => (req) => {
    req.contextValues.set(callerKey, caller);
    return next(req);
  };
}

export function userCaller(
  role: Role,
  userId: string = crypto.randomUUID(),
): Extract<Caller, { kind: "user" }> {
  return { kind: "user", userId, role, scopes: [] };
}

/**
 * Starts the service on a fresh schema. Every client shares one service instance (one feed),
 * as calls to one server process would.
 */
export async function startTagHarness(options: TagServiceOptions = {}): Promise<TagHarness> {
  const db = await createTestDatabase();
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 8));
  const log = createMemoryLogger("warn");
  const impl = createTagServiceImpl({ sql: db.sql, clock, log }, options);
  const clientAs = (caller: Caller) =>
    createClient(
      TagService,
      createRouterTransport((router) => router.service(TagService, impl), {
        router: { interceptors: [setCallerInterceptor(caller)] },
      }),
    );
  return {
    db,
    sql: db.sql,
    clock,
    log,
    clientAs,
    clientFor(role, userId = crypto.randomUUID()) {
      return { client: clientAs(userCaller(role, userId)), userId };
    },
    close: () => db.drop(),
  };
}

export interface SyntheticTreeOptions {
  tags: number;
  /** Children per node. */
  fanOut?: number;
  /** Root count. */
  roots?: number;
  users?: number;
  subscriptions?: number;
}

/**
 * Fills the catalogue with `tags` synthetic tags (roots, then `fanOut` children per node,
 * level by level) and `subscriptions` random-but-fixed subscriptions, in a few set-based
 * statements so a 10,000-tag tree takes well under a second. Tag n has id md5('tag:' || n).
 */
export async function seedSyntheticTree(sql: Sql, options: SyntheticTreeOptions): Promise<void> {
  const { tags, fanOut = 10, roots = 10, users = 0, subscriptions = 0 } = options;
  await sql.begin(async (tx) => {
    await tx`
      insert into tags (id, name, name_key, slug, type, parent_id, description, created_by, updated_by, created_at, updated_at)
      select md5('tag:' || g)::uuid, 'Tag ' || g, 'tag ' || g, 'tag-' || g,
        (array['language','skill_level','topic','framework','tool','domain','concept'])[1 + g % 7],
        case when g < ${roots} then null else md5('tag:' || ((g - ${roots}) / ${fanOut}))::uuid end,
        '', 'seed', 'seed', now(), now()
      from generate_series(0, ${tags - 1}) g`;
    await tx`
      insert into tag_names (name_key, tag_id, name, is_alias, created_at)
      select name_key, id, name, false, created_at from tags`;
    if (subscriptions > 0 && users > 0) {
      await tx`
        insert into tag_subscriptions (user_id, tag_id, created_at)
        select md5('user:' || (g % ${users}))::uuid::text, md5('tag:' || ((g * 7919) % ${tags}))::uuid, now()
        from generate_series(1, ${subscriptions}) g
        on conflict do nothing`;
    }
  });
}

/** The id seedSyntheticTree gives tag or user n: md5('<kind>:<n>') as a UUID, computed where it was made. */
export async function syntheticUuid(sql: Sql, kind: "tag" | "user", n: number): Promise<string> {
  const [row] = await sql<{ id: string }[]>`select md5(${`${kind}:${n}`})::uuid::text as id`;
  return row.id;
}

/** Asserts that `promise` rejects with a ConnectError of `code` whose message matches `message`. */
export async function assertConnectError(
  promise: Promise<unknown>,
  code: Code,
  message?: RegExp,
): Promise<ConnectError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ConnectError, `expected a ConnectError ${Code[code]}, got ${String(error)}`);
  assert.equal(Code[error.code], Code[code], error.rawMessage);
  if (message) assert.match(error.rawMessage, message);
  return error;
}
