/**
 * Subscriptions and ResolveAudience over a subtree, on the real Postgres.
 */
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { assertConnectError, startTagHarness } from "../server/tags/testing.ts";

Deno.test("members subscribe, list and unsubscribe", async (t) => {
  const h = await startTagHarness();
  const admin = h.clientFor("admin").client;
  const member = h.clientFor("member");
  try {
    const ids: string[] = [];
    for (const name of ["A", "B", "C"]) {
      ids.push((await admin.createTag({ name, type: TagType.TOPIC })).tag!.id);
    }

    await t.step("subscribing twice answers the existing subscription", async () => {
      const first = await member.client.subscribe({ tagId: ids[0] });
      h.clock.advance(60_000);
      const again = await member.client.subscribe({ tagId: ids[0] });
      assert.equal(first.subscription?.tag?.name, "A");
      assert.deepEqual(again.subscription?.createTime, first.subscription?.createTime);
      await assertConnectError(
        member.client.subscribe({ tagId: crypto.randomUUID() }),
        Code.NotFound,
        /^tag_id/,
      );
    });

    await t.step("my subscriptions come newest first, paged, and only mine", async () => {
      await member.client.subscribe({ tagId: ids[1] });
      await member.client.subscribe({ tagId: ids[2] });
      await h.clientFor("member").client.subscribe({ tagId: ids[1] });
      const names: string[] = [];
      let pageToken = "";
      do {
        const res = await member.client.listMySubscriptions({ pageSize: 2, pageToken });
        names.push(...res.subscriptions.map((s) => s.tag!.name));
        pageToken = res.nextPageToken;
      } while (pageToken !== "");
      assert.deepEqual(names, ["C", "B", "A"]);
      const first = await member.client.listMySubscriptions({ pageSize: 1 });
      await assertConnectError(
        h.clientFor("member").client.listMySubscriptions({ pageSize: 1, pageToken: first.nextPageToken }),
        Code.InvalidArgument,
        /^page_token belongs to a list with other filters/,
      );
    });

    await t.step("unsubscribing is idempotent", async () => {
      await member.client.unsubscribe({ tagId: ids[1] });
      await member.client.unsubscribe({ tagId: ids[1] });
      const res = await member.client.listMySubscriptions({});
      assert.deepEqual(res.subscriptions.map((s) => s.tag!.name), ["C", "A"]);
    });

    await t.step("subscribing needs a signed-in user", async () => {
      const key = h.clientAs({
        kind: "api_key",
        keyId: "k1",
        ownerId: crypto.randomUUID(),
        scopes: ["tags:read"],
      });
      await assertConnectError(key.subscribe({ tagId: ids[0] }), Code.Unauthenticated);
    });
  } finally {
    await h.close();
  }
});

Deno.test("ResolveAudience counts and pages the subscribers of a subtree", async (t) => {
  const h = await startTagHarness();
  const admin = h.clientFor("admin").client;
  const operator = h.clientFor("operator").client;
  try {
    const ids: Record<string, string> = {};
    for (
      const [name, parent] of [["Languages"], ["Python", "Languages"], ["Django", "Python"], [
        "Rust",
        "Languages",
      ], [
        "Tools",
      ]]
    ) {
      ids[name] =
        (await admin.createTag({ name, type: TagType.TOPIC, parentId: parent ? ids[parent] : "" })).tag!.id;
    }
    // Fixed user ids so the paging order is known.
    const user = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
    const follows: [number, string[]][] = [
      [1, ["Languages"]],
      [2, ["Python"]],
      [3, ["Django"]],
      [4, ["Rust"]],
      [5, ["Python", "Django"]],
      [6, ["Tools"]],
    ];
    for (const [n, tags] of follows) {
      const client = h.clientFor("member", user(n)).client;
      for (const tag of tags) await client.subscribe({ tagId: ids[tag] });
    }

    await t.step("exactly the named tags", async () => {
      const res = await operator.resolveAudience({ tagIds: [ids.Python] });
      assert.equal(res.totalCount, 2n);
      assert.deepEqual(res.userIds, [user(2), user(5)]);
      assert.equal(res.nextPageToken, "");
    });

    await t.step(
      "with descendants: the subtree's subscribers and those of its ancestors, each once",
      async () => {
        const res = await operator.resolveAudience({ tagIds: [ids.Python], includeDescendants: true });
        assert.equal(res.totalCount, 4n);
        assert.deepEqual(res.userIds, [user(1), user(2), user(3), user(5)]);
      },
    );

    await t.step("several tags, paged by user id, the count over the whole audience", async () => {
      const seen: string[] = [];
      let pageToken = "";
      do {
        const res = await operator.resolveAudience({
          tagIds: [ids.Languages, ids.Tools],
          includeDescendants: true,
          pageSize: 2,
          pageToken,
        });
        assert.equal(res.totalCount, 6n);
        seen.push(...res.userIds);
        pageToken = res.nextPageToken;
      } while (pageToken !== "");
      assert.deepEqual(seen, [1, 2, 3, 4, 5, 6].map(user));
    });

    await t.step("bad input is refused", async () => {
      await assertConnectError(operator.resolveAudience({}), Code.InvalidArgument, /^tag_ids is empty/);
      await assertConnectError(
        operator.resolveAudience({ tagIds: [ids.Python, "x"] }),
        Code.InvalidArgument,
        /^tag_ids\[1\]/,
      );
      const ghost = crypto.randomUUID();
      await assertConnectError(
        operator.resolveAudience({ tagIds: [ids.Python, ghost] }),
        Code.NotFound,
        new RegExp(ghost),
      );
      await assertConnectError(
        operator.resolveAudience({ tagIds: Array.from({ length: 101 }, () => crypto.randomUUID()) }),
        Code.InvalidArgument,
        /at most 100/,
      );
    });
  } finally {
    await h.close();
  }
});
