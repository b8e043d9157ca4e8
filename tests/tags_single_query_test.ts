/**
 * On a 10,000-tag tree, GetTree and ResolveAudience (and the other hierarchy reads) each send
 * exactly one statement to Postgres. Counted at the driver: the `postgres` debug hook sees
 * every statement the pool sends, so a loop of queries or a hidden existence check would show.
 */
import assert from "node:assert/strict";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { TagService } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { countingPool, createTestDatabase } from "../server/db/testing.ts";
import { ManualClock } from "../server/clock.ts";
import { createMemoryLogger } from "../server/log.ts";
import { createMemorySuggestionBus } from "../server/tags/suggestion_feed.ts";
import { createTagServiceImpl } from "../server/tags/service.ts";
import {
  seedSyntheticTree,
  setCallerInterceptor,
  syntheticUuid,
  userCaller,
} from "../server/tags/testing.ts";

Deno.test("hierarchy reads are one statement each on a 10,000-tag tree", async (t) => {
  const db = await createTestDatabase();
  const { sql: counted, statements } = countingPool(db.url);
  try {
    await seedSyntheticTree(db.sql, { tags: 10_000, users: 3_000, subscriptions: 30_000 });
    const impl = createTagServiceImpl(
      { sql: counted, clock: new ManualClock(), log: createMemoryLogger("warn") },
      { bus: createMemorySuggestionBus() },
    );
    const client = createClient(
      TagService,
      createRouterTransport((router) => router.service(TagService, impl), {
        router: { interceptors: [setCallerInterceptor(userCaller("operator"))] },
      }),
    );
    await counted`select 1`;
    const root = await syntheticUuid(db.sql, "tag", 3);
    const leaf = await syntheticUuid(db.sql, "tag", 9_999);

    const statementsOf = async (call: () => Promise<unknown>) => {
      statements.length = 0;
      await call();
      return [...statements];
    };

    await t.step("GetTree of the whole catalogue", async () => {
      let size = 0;
      const sent = await statementsOf(async () => {
        size = (await client.getTree({})).nodes.length;
      });
      assert.equal(size, 10_000);
      assert.equal(sent.length, 1, sent.join("\n---\n"));
      assert.match(sent[0], /with recursive tree/);
    });

    await t.step("GetTree of a subtree to a depth", async () => {
      const sent = await statementsOf(() => client.getTree({ rootId: root, maxDepth: 2 }));
      assert.equal(sent.length, 1);
    });

    await t.step("ResolveAudience with descendants, and a later page", async () => {
      let total = 0n;
      let token = "";
      const first = await statementsOf(async () => {
        const res = await client.resolveAudience({ tagIds: [root], includeDescendants: true, pageSize: 100 });
        total = res.totalCount;
        token = res.nextPageToken;
      });
      assert.ok(total > 100n, `audience of ${total}`);
      assert.equal(first.length, 1, first.join("\n---\n"));
      const second = await statementsOf(() =>
        client.resolveAudience({ tagIds: [root], includeDescendants: true, pageSize: 100, pageToken: token })
      );
      assert.equal(second.length, 1);
    });

    await t.step("ListAncestors and ListDescendants", async () => {
      assert.equal((await statementsOf(() => client.listAncestors({ id: leaf }))).length, 1);
      assert.equal((await statementsOf(() => client.listDescendants({ id: root, pageSize: 20 }))).length, 1);
    });
  } finally {
    await counted.end();
    await db.drop();
  }
});
