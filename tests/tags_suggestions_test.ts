/**
 * The suggestion lifecycle end to end, in-process over createRouterTransport on the real
 * Postgres: suggest, merge, watch (EXISTING, SUGGESTED, DECIDED), approve with edits, map,
 * reject, audit — and a pending suggestion never shows in the catalogue.
 */
import assert from "node:assert/strict";
import {
  Code,
  ConnectError,
  createClient,
  createHandlerContext,
  createRouterTransport,
} from "@connectrpc/connect";
import {
  type Suggestion,
  SuggestionEventKind,
  SuggestionStatus,
  type SuggestTagResponse,
  TagService,
  TagType,
  type WatchSuggestionsResponse,
} from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { connectPostgres } from "../server/db/postgres.ts";
import { createMemorySuggestionBus, type SuggestionBus } from "../server/tags/suggestion_feed.ts";
import { createTagServiceImpl } from "../server/tags/service.ts";
import {
  assertConnectError,
  setCallerInterceptor,
  startTagHarness,
  userCaller,
} from "../server/tags/testing.ts";

type Watch = AsyncIterator<WatchSuggestionsResponse>;

function suggestionOf(res: SuggestTagResponse): Suggestion {
  assert.equal(res.result.case, "suggestion");
  return res.result.value as Suggestion;
}

async function nextEvent(watch: Watch): Promise<WatchSuggestionsResponse> {
  const { value, done } = await watch.next();
  assert.equal(done, false, "the watch ended early");
  return value;
}

Deno.test("suggestion lifecycle with a live watch", async (t) => {
  const h = await startTagHarness();
  const admin = h.clientFor("admin");
  const alice = h.clientFor("member");
  const bob = h.clientFor("member");
  const abort = new AbortController();
  try {
    const { tag: languages } = await admin.client.createTag({ name: "Languages", type: TagType.DOMAIN });
    const { tag: go } = await admin.client.createTag({
      name: "Go",
      type: TagType.LANGUAGE,
      parentId: languages!.id,
    });
    const zig = suggestionOf(
      await alice.client.suggestTag({ name: "Zig", type: TagType.LANGUAGE, reason: "fast" }),
    );

    const watch = admin.client.watchSuggestions({}, { signal: abort.signal })[Symbol.asyncIterator]();

    await t.step("a watch starts with the pending suggestions", async () => {
      const event = await nextEvent(watch);
      assert.equal(event.kind, SuggestionEventKind.EXISTING);
      assert.equal(event.suggestion?.id, zig.id);
      assert.deepEqual(event.suggestion?.suggestedBy, [alice.userId]);
    });

    let elixirId = "";
    await t.step("a new suggestion is streamed live", async () => {
      const res = await bob.client.suggestTag({
        name: "Elixir",
        type: TagType.LANGUAGE,
        parentId: languages!.id,
      });
      elixirId = res.result.value!.id;
      const event = await nextEvent(watch);
      assert.equal(event.kind, SuggestionEventKind.SUGGESTED);
      assert.equal(event.suggestion?.name, "Elixir");
      assert.equal(event.suggestion?.status, SuggestionStatus.PENDING);
      assert.equal(event.suggestion?.parentId, languages!.id);
    });

    await t.step(
      "a duplicate is merged, keeping every suggester, and streamed once per new suggester",
      async () => {
        const merged = await alice.client.suggestTag({
          name: " ELIXIR ",
          type: TagType.TOPIC,
          reason: "BEAM",
        });
        assert.equal(merged.result.case, "suggestion");
        assert.equal(merged.result.value?.id, elixirId);
        assert.deepEqual(merged.result.value?.suggestedBy, [bob.userId, alice.userId]);
        assert.equal(merged.result.value?.type, TagType.LANGUAGE, "the first suggestion's type is kept");
        const event = await nextEvent(watch);
        assert.equal(event.kind, SuggestionEventKind.SUGGESTED);
        assert.deepEqual(event.suggestion?.suggestedBy, [bob.userId, alice.userId]);
        // The same member again changes nothing, so no event: the next one is the next suggestion.
        await alice.client.suggestTag({ name: "elixir", type: TagType.LANGUAGE });
        await bob.client.suggestTag({ name: "Gleam", type: TagType.LANGUAGE });
        const next = await nextEvent(watch);
        assert.equal(next.suggestion?.name, "Gleam");
      },
    );

    await t.step("pending suggestions are not in the catalogue", async () => {
      const { tags } = await alice.client.listTags({});
      assert.deepEqual(tags.map((t) => t.name), ["Go", "Languages"]);
      const { nodes } = await alice.client.getTree({});
      assert.deepEqual(nodes.map((n) => n.tag?.name), ["Languages", "Go"]);
      await assertConnectError(
        alice.client.getTag({ key: { case: "name", value: "Elixir" } }),
        Code.NotFound,
      );
      const [{ n }] = await h.sql<
        { n: number }[]
      >`select count(*)::int as n from tags where name_key = 'elixir'`;
      assert.equal(n, 0);
    });

    await t.step("approval with edits creates the tag and is streamed", async () => {
      const res = await admin.client.approveSuggestion({
        id: elixirId,
        name: "Elixir lang",
        parentId: go!.id,
      });
      assert.equal(res.tag?.name, "Elixir lang");
      assert.equal(res.tag?.parentId, go!.id);
      assert.equal(res.tag?.type, TagType.LANGUAGE);
      assert.equal(res.tag?.createdBy, admin.userId);
      assert.equal(res.suggestion?.status, SuggestionStatus.APPROVED);
      assert.equal(res.suggestion?.tagId, res.tag?.id);
      assert.equal(res.suggestion?.decidedBy, admin.userId);
      const event = await nextEvent(watch);
      assert.equal(event.kind, SuggestionEventKind.DECIDED);
      assert.equal(event.suggestion?.status, SuggestionStatus.APPROVED);
      const { tags } = await alice.client.listTags({ parentId: go!.id });
      assert.deepEqual(tags.map((t) => t.name), ["Elixir lang"]);
      await assertConnectError(
        admin.client.approveSuggestion({ id: elixirId }),
        Code.FailedPrecondition,
        /is already approved: only pending suggestions can be decided/,
      );
    });

    await t.step("mapping makes the suggested name an alias", async () => {
      const s = await bob.client.suggestTag({ name: "Golang", type: TagType.LANGUAGE });
      assert.equal((await nextEvent(watch)).kind, SuggestionEventKind.SUGGESTED);
      const res = await admin.client.mapSuggestion({ id: s.result.value!.id, tagId: go!.id });
      assert.equal(res.suggestion?.status, SuggestionStatus.MAPPED);
      assert.deepEqual(res.tag?.aliases, ["Golang"]);
      const event = await nextEvent(watch);
      assert.equal(event.kind, SuggestionEventKind.DECIDED);
      assert.equal(event.suggestion?.status, SuggestionStatus.MAPPED);
      const { tag } = await alice.client.getTag({ key: { case: "name", value: "GOLANG" } });
      assert.equal(tag?.id, go!.id);
      const again = await alice.client.suggestTag({ name: "golang", type: TagType.LANGUAGE });
      assert.equal(again.result.case, "existingTag");
    });

    await t.step("rejection needs a reason and keeps it", async () => {
      await assertConnectError(
        admin.client.rejectSuggestion({ id: zig.id, reason: "  " }),
        Code.InvalidArgument,
        /^reason/,
      );
      const res = await admin.client.rejectSuggestion({ id: zig.id, reason: "Not used here" });
      assert.equal(res.suggestion?.status, SuggestionStatus.REJECTED);
      assert.equal(res.suggestion?.rejectionReason, "Not used here");
      assert.ok(res.suggestion?.decideTime);
      const event = await nextEvent(watch);
      assert.equal(event.kind, SuggestionEventKind.DECIDED);
      assert.equal(event.suggestion?.rejectionReason, "Not used here");
      await assertConnectError(
        admin.client.rejectSuggestion({ id: zig.id, reason: "again" }),
        Code.FailedPrecondition,
      );
      // Rejected is not pending: the name can be suggested afresh.
      const fresh = await alice.client.suggestTag({ name: "zig", type: TagType.LANGUAGE });
      assert.notEqual(fresh.result.value?.id, zig.id);
      assert.equal((await nextEvent(watch)).kind, SuggestionEventKind.SUGGESTED);
    });

    await t.step("suggestions list by status, oldest first, paged", async () => {
      const pending = await admin.client.listSuggestions({ status: SuggestionStatus.PENDING });
      assert.deepEqual(pending.suggestions.map((s) => s.name), ["Gleam", "zig"]);
      const names: string[] = [];
      let pageToken = "";
      do {
        const res = await admin.client.listSuggestions({ pageSize: 2, pageToken });
        names.push(...res.suggestions.map((s) => s.name));
        pageToken = res.nextPageToken;
      } while (pageToken !== "");
      assert.deepEqual(names, ["Zig", "Elixir", "Gleam", "Golang", "zig"]);
    });

    await t.step("every decision is audited with the deciding admin", async () => {
      const rows = await h.sql<{ actor: string; action: string; details: Record<string, unknown> }[]>`
        select actor, action, details from audit_log where action like 'tag.suggestion.%' order by id`;
      assert.deepEqual(rows.map((r) => r.action), [
        "tag.suggestion.create",
        "tag.suggestion.create",
        "tag.suggestion.merge",
        "tag.suggestion.create",
        "tag.suggestion.approve",
        "tag.suggestion.create",
        "tag.suggestion.map",
        "tag.suggestion.reject",
        "tag.suggestion.create",
      ]);
      for (const row of rows.filter((r) => !r.action.endsWith("create") && !r.action.endsWith("merge"))) {
        assert.equal(row.actor, `user:${admin.userId}`);
      }
      assert.equal(rows[4].details.edited_name, "Elixir lang");
      assert.equal(rows[7].details.reason, "Not used here");
    });

    await t.step("the watch ends when its call is cancelled", async () => {
      abort.abort();
      const error = await watch.next().then(() => undefined, (e: unknown) => e);
      assert.ok(error === undefined || ConnectError.from(error).code === Code.Canceled);
    });
  } finally {
    abort.abort();
    await h.close();
  }
});

/** A memory bus that counts its listeners, so a test can see a watch let go of the feed. */
function countingBus(): SuggestionBus & { listeners(): number } {
  const inner = createMemorySuggestionBus();
  let count = 0;
  return {
    publish: (event) => inner.publish(event),
    async subscribe(listener) {
      const stop = await inner.subscribe(listener);
      count++;
      return () => {
        count--;
        stop();
      };
    },
    listeners: () => count,
  };
}

Deno.test("a slow watcher is cut off with ResourceExhausted instead of buffering without bound", async () => {
  const bus = countingBus();
  const h = await startTagHarness({ bus, watchBuffer: 3 });
  const member = h.clientFor("member").client;
  const admin = h.clientFor("admin").client;
  const abort = new AbortController();
  try {
    const first = await member.suggestTag({ name: "Zig", type: TagType.LANGUAGE });
    const watch = admin.watchSuggestions({}, { signal: abort.signal })[Symbol.asyncIterator]();
    // Receiving the EXISTING event proves the watch is subscribed to the feed.
    assert.equal((await nextEvent(watch)).kind, SuggestionEventKind.EXISTING);
    assert.equal(bus.listeners(), 1);
    const suggestion = suggestionOf(first);
    for (let i = 0; i < 10; i++) {
      await bus.publish({ kind: SuggestionEventKind.SUGGESTED, suggestion });
    }
    assert.equal(bus.listeners(), 0, "the overflowing watch stopped listening at once");
    let received = 0;
    const error = await (async () => {
      try {
        while (true) {
          await nextEvent(watch);
          received++;
        }
      } catch (e) {
        return e;
      }
    })();
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, Code.ResourceExhausted);
    assert.match(error.rawMessage, /fell more than 3 events behind: reconnect/);
    assert.ok(received <= 3, `received ${received}`);
  } finally {
    abort.abort();
    await h.close();
  }
});

Deno.test("a watch lets go of the feed when the server aborts its call", async () => {
  const bus = countingBus();
  const h = await startTagHarness();
  const abort = new AbortController();
  try {
    const impl = createTagServiceImpl({ sql: h.sql, clock: h.clock, log: h.log }, { bus });
    await h.clientFor("member").client.suggestTag({ name: "Zig", type: TagType.LANGUAGE });
    // Call the handler as the router would, with the signal a server shutdown aborts.
    const ctx = createHandlerContext({
      service: TagService,
      method: TagService.method.watchSuggestions,
      protocolName: "test",
      requestMethod: "POST",
      url: "http://localhost/taskmesh.tags.v1.TagService/WatchSuggestions",
      shutdownSignal: abort.signal,
    });
    const stream = impl.watchSuggestions({ $typeName: "taskmesh.tags.v1.WatchSuggestionsRequest" }, ctx)
      [Symbol.asyncIterator]();
    const existing = await stream.next();
    assert.equal(existing.value?.kind, SuggestionEventKind.EXISTING);
    const pending = stream.next();
    abort.abort();
    const end = await pending;
    assert.equal(end.done, true, "the stream ends on shutdown");
    assert.equal(bus.listeners(), 0);
  } finally {
    await h.close();
  }
});

Deno.test("watchers on another instance receive events through Postgres NOTIFY", async () => {
  const h = await startTagHarness();
  // A second service instance with its own pool, as another server process would have.
  const otherSql = connectPostgres(h.db.url);
  const abort = new AbortController();
  try {
    const other = createTagServiceImpl({ sql: otherSql, clock: h.clock, log: h.log });
    const otherAdmin = createClient(
      TagService,
      createRouterTransport((router) => router.service(TagService, other), {
        router: { interceptors: [setCallerInterceptor(userCaller("admin"))] },
      }),
    );
    const member = h.clientFor("member").client;
    await member.suggestTag({ name: "Zig", type: TagType.LANGUAGE });
    const watch = otherAdmin.watchSuggestions({}, { signal: abort.signal })[Symbol.asyncIterator]();
    assert.equal((await nextEvent(watch)).kind, SuggestionEventKind.EXISTING);
    const long = "x".repeat(400);
    const suggested = await member.suggestTag({ name: "Odin", type: TagType.LANGUAGE, reason: long });
    const event = await nextEvent(watch);
    assert.equal(event.kind, SuggestionEventKind.SUGGESTED);
    assert.equal(event.suggestion?.id, suggested.result.value?.id);
    assert.equal(event.suggestion?.reason, long);
    // Many suggesters make an event too large for a NOTIFY payload: it travels as an id and is re-read.
    for (let i = 0; i < 200; i++) {
      await h.clientFor("member").client.suggestTag({ name: "Odin", type: TagType.LANGUAGE });
    }
    let last;
    for (let i = 0; i < 200; i++) last = await nextEvent(watch);
    assert.equal(last?.suggestion?.suggestedBy.length, 201);
  } finally {
    abort.abort();
    await otherSql.end();
    await h.close();
  }
});

Deno.test("a watch whose feed connection dropped is told to resynchronise, and the next watch works", async () => {
  const h = await startTagHarness();
  const admin = h.clientFor("admin").client;
  const member = h.clientFor("member").client;
  const abort = new AbortController();
  try {
    await member.suggestTag({ name: "Zig", type: TagType.LANGUAGE });
    const watch = admin.watchSuggestions({}, { signal: abort.signal })[Symbol.asyncIterator]();
    assert.equal((await nextEvent(watch)).kind, SuggestionEventKind.EXISTING);
    // The feed's LISTEN connection, found by the channel it listens on.
    const killed = await h.sql<{ pid: number }[]>`
      select pid, pg_terminate_backend(pid) from pg_stat_activity
      where query = ${`listen "tm_tag_suggestions_${h.db.schema}"`}`;
    assert.equal(killed.length, 1);
    const error = await watch.next().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, Code.Unavailable);
    assert.match(error.rawMessage, /reconnect to resynchronise/);

    const again = admin.watchSuggestions({}, { signal: abort.signal })[Symbol.asyncIterator]();
    assert.equal((await nextEvent(again)).kind, SuggestionEventKind.EXISTING);
    await member.suggestTag({ name: "Odin", type: TagType.LANGUAGE });
    assert.equal((await nextEvent(again)).suggestion?.name, "Odin");
  } finally {
    abort.abort();
    await h.close();
  }
});
