/**
 * The tag service on the embedded PGlite served over its socket: the same SQL runs, and the
 * suggestion feed falls back to in-process delivery because notifications do not reach a
 * listening connection there.
 */
import assert from "node:assert/strict";
import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { SuggestionEventKind, TagService, TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { ManualClock } from "../server/clock.ts";
import { startEmbeddedPostgres } from "../server/db/embedded.ts";
import { migrate } from "../server/db/migrate.ts";
import { connectPostgres } from "../server/db/postgres.ts";
import { createMemoryLogger } from "../server/log.ts";
import { createTagServiceImpl } from "../server/tags/service.ts";
import { assertConnectError, setCallerInterceptor, userCaller } from "../server/tags/testing.ts";

Deno.test("the tag service on the embedded database", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "taskmesh_tags_pglite_" });
  const db = await startEmbeddedPostgres({ dataDir });
  const sql = connectPostgres(db.url, { max: 4 });
  const log = createMemoryLogger("info");
  const abort = new AbortController();
  try {
    await migrate(sql);
    const impl = createTagServiceImpl({ sql, clock: new ManualClock(), log });
    const as = (role: "admin" | "member" | "operator") =>
      createClient(
        TagService,
        createRouterTransport((router) => router.service(TagService, impl), {
          router: { interceptors: [setCallerInterceptor(userCaller(role))] },
        }),
      );
    const admin = as("admin");
    const member = as("member");

    const ids: Record<string, string> = {};
    await t.step("tags, names and cycles behave as on Postgres", async () => {
      for (const [name, parent] of [["Languages"], ["Python", "Languages"], ["Django", "Python"]]) {
        ids[name] =
          (await admin.createTag({ name, type: TagType.TOPIC, parentId: parent ? ids[parent] : "" })).tag!.id;
      }
      await assertConnectError(admin.createTag({ name: " PYTHON", type: TagType.TOPIC }), Code.AlreadyExists);
      await admin.createTag({ name: "Cafe\u0301", type: TagType.TOPIC });
      const { tag } = await member.getTag({ key: { case: "name", value: "CAF\u00c9" } });
      assert.equal(tag?.name, "Caf\u00e9");
      await assertConnectError(
        admin.moveTag({ id: ids.Python, newParentId: ids.Django }),
        Code.FailedPrecondition,
        /Python → Django → Python/,
      );
      const { nodes } = await member.getTree({});
      assert.deepEqual(nodes.map((n) => [n.tag?.name, n.depth]), [
        ["Café", 0],
        ["Languages", 0],
        ["Python", 1],
        ["Django", 2],
      ]);
      const prefix = await member.listTags({ namePrefix: "py" });
      assert.deepEqual(prefix.tags.map((t) => t.name), ["Python"]);
    });

    await t.step("audiences resolve", async () => {
      await member.subscribe({ tagId: ids.Languages });
      const res = await as("operator").resolveAudience({ tagIds: [ids.Django], includeDescendants: true });
      assert.equal(res.totalCount, 1n);
    });

    await t.step("suggestion events reach watchers in-process", async () => {
      await member.suggestTag({ name: "Zig", type: TagType.LANGUAGE });
      const watch = admin.watchSuggestions({}, { signal: abort.signal })[Symbol.asyncIterator]();
      assert.equal((await watch.next()).value?.kind, SuggestionEventKind.EXISTING);
      const suggested = await member.suggestTag({ name: "Odin", type: TagType.LANGUAGE });
      const event = (await watch.next()).value;
      assert.equal(event?.kind, SuggestionEventKind.SUGGESTED);
      assert.equal(event?.suggestion?.id, suggested.result.value?.id);
      await admin.rejectSuggestion({ id: suggested.result.value!.id, reason: "later" });
      assert.equal((await watch.next()).value?.kind, SuggestionEventKind.DECIDED);
      assert.ok(log.lines.some((l) => String(l.msg).startsWith("suggestion events stay in this process")));
    });
  } finally {
    abort.abort();
    await sql.end();
    await db.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
