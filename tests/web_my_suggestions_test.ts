/**
 * ListMySuggestions, the member's view of their own suggestions that the web app's tags
 * page shows: only the caller's, newest first, paged, with the admin's decision, and
 * without the other suggesters' ids.
 */
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { SuggestionStatus, TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { assertConnectError, startTagHarness } from "../server/tags/testing.ts";

Deno.test("ListMySuggestions: my suggestions only, newest first, paged, with each decision", async () => {
  const h = await startTagHarness();
  try {
    const admin = h.clientFor("admin").client;
    const alice = h.clientFor("member");
    const bob = h.clientFor("member");
    const names = ["Zig", "Odin", "Gleam"];
    for (const name of names) await alice.client.suggestTag({ name, type: TagType.LANGUAGE });
    // Bob suggests a name of his own and joins Alice's "Odin".
    await bob.client.suggestTag({ name: "Nim", type: TagType.LANGUAGE });
    await bob.client.suggestTag({ name: "odin", type: TagType.LANGUAGE });

    const pending = await admin.listSuggestions({});
    const byName = new Map(pending.suggestions.map((s) => [s.name, s]));
    const { tag } = await admin.approveSuggestion({ id: byName.get("Zig")!.id });
    await admin.rejectSuggestion({ id: byName.get("Gleam")!.id, reason: "too niche for now" });

    const first = await alice.client.listMySuggestions({ pageSize: 2 });
    assert.deepEqual(first.suggestions.map((s) => s.name), ["Gleam", "Odin"]);
    assert.ok(first.nextPageToken);
    const second = await alice.client.listMySuggestions({ pageSize: 2, pageToken: first.nextPageToken });
    assert.deepEqual(second.suggestions.map((s) => s.name), ["Zig"]);
    assert.equal(second.nextPageToken, "");

    const [gleam, odin] = first.suggestions;
    const [zig] = second.suggestions;
    assert.equal(zig.status, SuggestionStatus.APPROVED);
    assert.equal(zig.tagId, tag!.id);
    assert.ok(zig.decideTime);
    assert.equal(gleam.status, SuggestionStatus.REJECTED);
    assert.equal(gleam.rejectionReason, "too niche for now");
    assert.equal(odin.status, SuggestionStatus.PENDING);
    // Bob is a suggester of Odin too, but Alice sees only herself.
    assert.deepEqual(odin.suggestedBy, [alice.userId]);

    const bobs = await bob.client.listMySuggestions({});
    assert.deepEqual(bobs.suggestions.map((s) => s.name), ["Odin", "Nim"]);
    assert.deepEqual(bobs.suggestions[0].suggestedBy, [bob.userId]);

    // A page token is bound to its owner.
    await assertConnectError(
      bob.client.listMySuggestions({ pageSize: 2, pageToken: first.nextPageToken }),
      Code.InvalidArgument,
    );
  } finally {
    await h.close();
  }
});
