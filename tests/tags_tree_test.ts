/**
 * The hierarchy on the real Postgres: no cycles even under concurrent moves, deletes with each
 * child policy, and the recursive reads (tree, ancestors, descendants, filtered lists).
 */
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { ChildPolicy, TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { connectPostgres, type Sql } from "../server/db/postgres.ts";
import { TAG_TREE_LOCK } from "../server/tags/queries.ts";
import { assertConnectError, startTagHarness, type TagClient } from "../server/tags/testing.ts";

async function makeTags(
  admin: TagClient,
  specs: [name: string, parent?: string][],
): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const [name, parent] of specs) {
    const { tag } = await admin.createTag({
      name,
      type: TagType.TOPIC,
      parentId: parent ? ids[parent] : "",
    });
    ids[name] = tag!.id;
  }
  return ids;
}

/** Whether following parents from any tag ever comes back to it. */
async function hasCycle(sql: Sql): Promise<boolean> {
  const [{ cyclic }] = await sql<{ cyclic: boolean }[]>`
    with recursive walk (start, id, steps) as (
      select id, parent_id, 1 from tags where parent_id is not null
      union all
      select w.start, t.parent_id, w.steps + 1 from walk w join tags t on t.id = w.id
      where t.parent_id is not null and w.steps < 1000 and w.id <> w.start
    )
    select exists(select 1 from walk where id = start) as cyclic`;
  return cyclic;
}

Deno.test("moves never make a cycle", async (t) => {
  const h = await startTagHarness();
  const admin = h.clientFor("admin").client;
  try {
    const ids = await makeTags(admin, [["Languages"], ["Python", "Languages"], ["Django", "Python"], [
      "Rust",
    ]]);

    await t.step("under itself", async () => {
      await assertConnectError(
        admin.moveTag({ id: ids.Python, newParentId: ids.Python }),
        Code.FailedPrecondition,
        /would make a cycle: Python → Python:/,
      );
    });

    await t.step("under a child names the path", async () => {
      await assertConnectError(
        admin.moveTag({ id: ids.Python, newParentId: ids.Django }),
        Code.FailedPrecondition,
        /moving "Python" under "Django" would make a cycle: Python → Django → Python: /,
      );
    });

    await t.step("under a deeper descendant", async () => {
      await assertConnectError(
        admin.moveTag({ id: ids.Languages, newParentId: ids.Django }),
        Code.FailedPrecondition,
        /Languages → Python → Django → Languages/,
      );
    });

    await t.step("a legal move and making a root", async () => {
      const { tag } = await admin.moveTag({ id: ids.Django, newParentId: ids.Rust });
      assert.equal(tag?.parentId, ids.Rust);
      const { tag: root } = await admin.moveTag({ id: ids.Django, newParentId: "" });
      assert.equal(root?.parentId, "");
      await assertConnectError(
        admin.moveTag({ id: ids.Django, newParentId: crypto.randomUUID() }),
        Code.NotFound,
        /^new_parent_id/,
      );
      assert.equal(await hasCycle(h.sql), false);
    });
  } finally {
    await h.close();
  }
});

Deno.test("two concurrent moves of tags into each other cannot both succeed", async (t) => {
  const h = await startTagHarness();
  const admin = h.clientFor("admin").client;
  // A pool of its own: its one connection sits in the lock-holding transaction.
  const holder = connectPostgres(h.db.url, { max: 1 });
  try {
    await t.step("both in flight at once, released together", async () => {
      const ids = await makeTags(admin, [["A"], ["B"]]);
      // Hold the tree lock so both moves start, check nothing yet, and queue behind it.
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const lockHeld = new Promise<void>((resolve) => (locked = resolve));
      const holding = holder.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(${TAG_TREE_LOCK}::int4, hashtext(current_schema()))`;
        locked();
        await released;
      });
      await lockHeld;
      const moves = [
        admin.moveTag({ id: ids.A, newParentId: ids.B }),
        admin.moveTag({ id: ids.B, newParentId: ids.A }),
      ];
      // Wait (for a condition, not a time) until both transactions wait on the lock.
      while (true) {
        const [{ waiting }] = await h.sql<{ waiting: number }[]>`
          select count(*)::int as waiting from pg_locks
          where locktype = 'advisory' and not granted and classid = ${TAG_TREE_LOCK}::oid
            and objid = (hashtext(${h.db.schema})::bigint & 4294967295)::oid`;
        if (waiting === 2) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      release();
      await holding;
      const results = await Promise.allSettled(moves);
      const ok = results.filter((r) => r.status === "fulfilled");
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      assert.equal(ok.length, 1, "exactly one move wins");
      assert.ok(failed[0].reason instanceof ConnectError);
      assert.equal(failed[0].reason.code, Code.FailedPrecondition);
      assert.match(failed[0].reason.rawMessage, /would make a cycle: (A → B → A|B → A → B)/);
      assert.equal(await hasCycle(h.sql), false);
    });

    await t.step("racing freely, many times, on chains", async () => {
      for (let round = 0; round < 15; round++) {
        const ids = await makeTags(admin, [[`X${round}`], [`Y${round}`], [`Z${round}`, `Y${round}`]]);
        // X under Z (Z is under Y) while Y goes under X: together they would close X → Y → Z → X.
        const results = await Promise.allSettled([
          admin.moveTag({ id: ids[`X${round}`], newParentId: ids[`Z${round}`] }),
          admin.moveTag({ id: ids[`Y${round}`], newParentId: ids[`X${round}`] }),
        ]);
        assert.equal(results.filter((r) => r.status === "fulfilled").length, 1, `round ${round}`);
      }
      assert.equal(await hasCycle(h.sql), false);
    });
  } finally {
    await holder.end();
    await h.close();
  }
});

Deno.test("deleting tags with and without children", async (t) => {
  const h = await startTagHarness();
  const admin = h.clientFor("admin").client;
  const member = h.clientFor("member");
  try {
    const ids = await makeTags(admin, [
      ["Languages"],
      ["Python", "Languages"],
      ["Django", "Python"],
      ["Flask", "Python"],
      ["Wagtail", "Django"],
      ["Rust", "Languages"],
      ["Tokio", "Rust"],
      ["Actix", "Rust"],
      ["Misc"],
    ]);

    await t.step("a leaf goes alone", async () => {
      const res = await admin.deleteTag({ id: ids.Misc });
      assert.deepEqual(res.deletedIds, [ids.Misc]);
      await assertConnectError(admin.deleteTag({ id: ids.Misc }), Code.NotFound);
    });

    await t.step("a tag with children is refused without a policy", async () => {
      await assertConnectError(
        admin.deleteTag({ id: ids.Python }),
        Code.FailedPrecondition,
        /tag "Python" has 2 children: pass child_policy/,
      );
    });

    await t.step("re-parenting moves the children to the grandparent", async () => {
      await member.client.subscribe({ tagId: ids.Python });
      const res = await admin.deleteTag({ id: ids.Python, childPolicy: ChildPolicy.REPARENT });
      assert.deepEqual(res.deletedIds, [ids.Python]);
      assert.equal(res.removedSubscriptions, 1);
      for (const child of ["Django", "Flask"]) {
        const { tag } = await admin.getTag({ key: { case: "id", value: ids[child] } });
        assert.equal(tag?.parentId, ids.Languages, child);
      }
      const { tag: wagtail } = await admin.getTag({ key: { case: "id", value: ids.Wagtail } });
      assert.equal(wagtail?.parentId, ids.Django, "grandchildren stay where they were");
      const mine = await member.client.listMySubscriptions({});
      assert.equal(mine.subscriptions.length, 0);
    });

    await t.step("deleting a subtree takes every descendant and their subscriptions", async () => {
      await member.client.subscribe({ tagId: ids.Tokio });
      await member.client.subscribe({ tagId: ids.Languages });
      await h.clientFor("member").client.subscribe({ tagId: ids.Rust });
      const res = await admin.deleteTag({ id: ids.Rust, childPolicy: ChildPolicy.DELETE_SUBTREE });
      assert.deepEqual(new Set(res.deletedIds), new Set([ids.Rust, ids.Tokio, ids.Actix]));
      assert.equal(res.deletedIds[0], ids.Rust);
      assert.equal(res.removedSubscriptions, 2);
      const mine = await member.client.listMySubscriptions({});
      assert.deepEqual(
        mine.subscriptions.map((s) => s.tag?.name),
        ["Languages"],
        "ancestor subscription stays",
      );
      const [{ n }] = await h.sql<{ n: number }[]>`
        select count(*)::int as n from audit_log where action = 'tag.delete'`;
      assert.equal(n, 3);
    });

    await t.step("an unknown child policy is refused", async () => {
      await assertConnectError(
        admin.deleteTag({ id: ids.Django, childPolicy: 7 as ChildPolicy }),
        Code.InvalidArgument,
        /^child_policy is unknown/,
      );
    });
  } finally {
    await h.close();
  }
});

Deno.test("recursive reads: tree, ancestors, descendants and filtered lists", async (t) => {
  const h = await startTagHarness();
  const admin = h.clientFor("admin").client;
  const viewer = h.clientFor("viewer").client;
  try {
    const ids = await makeTags(admin, [
      ["Languages"],
      ["Python", "Languages"],
      ["Django", "Python"],
      ["Flask", "Python"],
      ["Wagtail", "Django"],
      ["Go", "Languages"],
      ["Tools"],
      ["Git", "Tools"],
    ]);

    await t.step("the whole tree, depth first with siblings by name", async () => {
      const { nodes } = await viewer.getTree({});
      assert.deepEqual(
        nodes.map((n) => [n.tag?.name, n.depth, n.childCount]),
        [
          ["Languages", 0, 2],
          ["Go", 1, 0],
          ["Python", 1, 2],
          ["Django", 2, 1],
          ["Wagtail", 3, 0],
          ["Flask", 2, 0],
          ["Tools", 0, 1],
          ["Git", 1, 0],
        ],
      );
    });

    await t.step("a subtree to a depth limit still counts hidden children", async () => {
      const { nodes } = await viewer.getTree({ rootId: ids.Python, maxDepth: 1 });
      assert.deepEqual(nodes.map((n) => [n.tag?.name, n.depth, n.childCount]), [
        ["Python", 0, 2],
        ["Django", 1, 1],
        ["Flask", 1, 0],
      ]);
      await assertConnectError(viewer.getTree({ rootId: crypto.randomUUID() }), Code.NotFound);
      await assertConnectError(viewer.getTree({ maxDepth: -1 }), Code.InvalidArgument, /^max_depth/);
    });

    await t.step("ancestors, nearest first", async () => {
      const { tags } = await viewer.listAncestors({ id: ids.Wagtail });
      assert.deepEqual(tags.map((t) => t.name), ["Django", "Python", "Languages"]);
      const roots = await viewer.listAncestors({ id: ids.Languages });
      assert.deepEqual(roots.tags, []);
      await assertConnectError(viewer.listAncestors({ id: crypto.randomUUID() }), Code.NotFound);
    });

    await t.step("descendants, breadth first, paged", async () => {
      const names: string[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const res = await viewer.listDescendants({ id: ids.Languages, pageSize: 2, pageToken });
        names.push(...res.tags.map((t) => t.name));
        pageToken = res.nextPageToken;
        pages++;
      } while (pageToken !== "");
      assert.deepEqual(names, ["Go", "Python", "Django", "Flask", "Wagtail"]);
      assert.equal(pages, 3);
      const leaf = await viewer.listDescendants({ id: ids.Git });
      assert.deepEqual(leaf.tags, []);
      await assertConnectError(viewer.listDescendants({ id: crypto.randomUUID() }), Code.NotFound);
    });

    await t.step("lists filter by type, parent, prefix and roots, and page", async () => {
      await admin.updateTag({ id: ids.Python, type: TagType.LANGUAGE });
      await admin.updateTag({ id: ids.Go, type: TagType.LANGUAGE });
      const byType = await viewer.listTags({ type: TagType.LANGUAGE });
      assert.deepEqual(byType.tags.map((t) => t.name), ["Go", "Python"]);
      const byParent = await viewer.listTags({ parentId: ids.Python });
      assert.deepEqual(byParent.tags.map((t) => t.name), ["Django", "Flask"]);
      const roots = await viewer.listTags({ rootsOnly: true });
      assert.deepEqual(roots.tags.map((t) => t.name), ["Languages", "Tools"]);
      const prefix = await viewer.listTags({ namePrefix: "  PY" });
      assert.deepEqual(prefix.tags.map((t) => t.name), ["Python"]);

      const all: string[] = [];
      let pageToken = "";
      do {
        const res = await viewer.listTags({ pageSize: 3, pageToken });
        all.push(...res.tags.map((t) => t.name));
        pageToken = res.nextPageToken;
      } while (pageToken !== "");
      assert.deepEqual(all, ["Django", "Flask", "Git", "Go", "Languages", "Python", "Tools", "Wagtail"]);

      const first = await viewer.listTags({ pageSize: 1 });
      await assertConnectError(
        viewer.listTags({ pageSize: 1, pageToken: first.nextPageToken, type: TagType.LANGUAGE }),
        Code.InvalidArgument,
        /^page_token belongs to a list with other filters/,
      );
      await assertConnectError(
        viewer.listTags({ pageToken: "garbage!" }),
        Code.InvalidArgument,
        /^page_token/,
      );
      await assertConnectError(viewer.listTags({ pageSize: -1 }), Code.InvalidArgument, /^page_size/);
    });

    await t.step("UpdateTag changes only what is set, and audits", async () => {
      const { tag } = await admin.updateTag({ id: ids.Git, description: "Version control" });
      assert.equal(tag?.name, "Git");
      assert.equal(tag?.description, "Version control");
      assert.equal(tag?.type, TagType.TOPIC);
      const rows = await h.sql<{ action: string; target: string }[]>`
        select action, target from audit_log where action = 'tag.update' order by id`;
      assert.equal(rows.at(-1)?.target, ids.Git);
    });
  } finally {
    await h.close();
  }
});
