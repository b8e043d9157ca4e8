/**
 * `deno task bench:tags`: GetTree and ResolveAudience on a 10,000-tag tree with 100,000
 * subscriptions from 20,000 members, through the service over createRouterTransport (so
 * the numbers include protobuf encoding). That each is a single SQL statement is checked by
 * tests/tags_single_query_test.ts, not here.
 *
 * Uses TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) and the schema
 * `bench_tags`, rebuilt at every run and left in place afterwards (a bench has no teardown).
 */
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { TagService } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { systemClock } from "../server/clock.ts";
import { migrate } from "../server/db/migrate.ts";
import { connectPostgres } from "../server/db/postgres.ts";
import { testDatabaseUrl } from "../server/db/testing.ts";
import { createMemoryLogger } from "../server/log.ts";
import { createTagServiceImpl } from "../server/tags/service.ts";
import { createMemorySuggestionBus } from "../server/tags/suggestion_feed.ts";
import {
  seedSyntheticTree,
  setCallerInterceptor,
  syntheticUuid,
  userCaller,
} from "../server/tags/testing.ts";

const SCHEMA = "bench_tags";
const TAGS = 10_000;

const admin = connectPostgres(testDatabaseUrl(), { max: 1 });
await admin`drop schema if exists ${admin(SCHEMA)} cascade`;
await admin`create schema ${admin(SCHEMA)}`;
await admin.end();

const sql = connectPostgres(testDatabaseUrl(), { schema: SCHEMA, max: 4 });
await migrate(sql);
await seedSyntheticTree(sql, { tags: TAGS, users: 20_000, subscriptions: 100_000 });
// Fresh statistics, as autovacuum would have them on a catalogue that grew over time.
await sql`analyze`;

const impl = createTagServiceImpl(
  { sql, clock: systemClock, log: createMemoryLogger("warn") },
  { bus: createMemorySuggestionBus() },
);
const client = createClient(
  TagService,
  createRouterTransport((router) => router.service(TagService, impl), {
    router: { interceptors: [setCallerInterceptor(userCaller("operator"))] },
  }),
);
// Tag 3 is a root (10 roots, fan-out 10): its subtree holds about a tenth of the tree.
const root = await syntheticUuid(sql, "tag", 3);
const leaf = await syntheticUuid(sql, "tag", TAGS - 1);

Deno.bench("GetTree: the whole 10,000-tag catalogue", { group: "tree", baseline: true }, async () => {
  const { nodes } = await client.getTree({});
  if (nodes.length !== TAGS) throw new Error(`expected ${TAGS} nodes, got ${nodes.length}`);
});

Deno.bench("GetTree: one root's subtree to depth 2", { group: "tree" }, async () => {
  await client.getTree({ rootId: root, maxDepth: 2 });
});

Deno.bench("ResolveAudience: a root with its descendants, first 1,000 ids", {
  group: "audience",
  baseline: true,
}, async () => {
  const res = await client.resolveAudience({ tagIds: [root], includeDescendants: true, pageSize: 1000 });
  if (res.totalCount === 0n) throw new Error("the audience is empty: the fixture did not load");
});

Deno.bench("ResolveAudience: a leaf with its ancestors, first 1,000 ids", { group: "audience" }, async () => {
  await client.resolveAudience({ tagIds: [leaf], includeDescendants: true, pageSize: 1000 });
});

Deno.bench("ResolveAudience: exactly one tag", { group: "audience" }, async () => {
  await client.resolveAudience({ tagIds: [root] });
});
