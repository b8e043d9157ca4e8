/**
 * The content library over RPC: Markdown rendered to sanitised HTML, tags checked,
 * update, list by tag with paging, delete, import matched by key, and PreviewTemplate
 * with a stored item.
 */
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { startCampaignBench } from "./_support/campaigns.ts";

Deno.test("content items: create, sanitise, update, list by tag, delete, preview", async () => {
  const bench = await startCampaignBench();
  const { client, auth } = bench;
  try {
    const rust = await bench.tag("Rust");
    const go = await bench.tag("Go");
    const easy = await bench.tag("Easy", TagType.SKILL_LEVEL);
    const { item } = await client.createContentItem({
      item: {
        title: "Borrow checker",
        bodyMarkdown:
          "# Task\n\n<script>alert(1)</script> [x](javascript:alert(1)) **bold** [ok](https://example.test)",
        tagIds: [rust, easy],
        metadata: { difficulty: "easy", source_url: "https://example.test/1" },
      },
    }, auth);
    assert.equal(
      item!.bodyHtml,
      "<h1>Task</h1>\n<p>&lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(1)) <strong>bold</strong> " +
        '<a href="https://example.test">ok</a></p>\n',
    );
    assert.deepEqual(item!.metadata, { difficulty: "easy", source_url: "https://example.test/1" });

    const unknown = await client.createContentItem({
      item: { title: "x", bodyMarkdown: "y", tagIds: [crypto.randomUUID()] },
    }, auth).catch((e) => e);
    assert.ok(unknown instanceof ConnectError && unknown.code === Code.NotFound, String(unknown));
    const untagged = await client.createContentItem({ item: { title: "x", bodyMarkdown: "y" } }, auth).catch((
      e,
    ) => e);
    assert.ok(untagged instanceof ConnectError && untagged.code === Code.InvalidArgument);
    assert.match(untagged.rawMessage, /^item\.tag_ids/);

    const { item: moved } = await client.updateContentItem({
      id: item!.id,
      title: "Borrowing",
      replaceTags: true,
      tagIds: [go, easy],
    }, auth);
    assert.equal(moved!.title, "Borrowing");
    assert.deepEqual(moved!.tagIds, [go, easy]);
    assert.equal(moved!.metadata.difficulty, "easy", "metadata kept unless replaced");

    const imported = await client.importContentItems({
      items: Array.from(
        { length: 5 },
        (_, i) => ({ key: `go-${i}`, title: `Go ${i}`, bodyMarkdown: "…", tagIds: [go] }),
      ),
    }, auth);
    assert.deepEqual([imported.created, imported.updated], [5, 0]);
    const noKey = await client.importContentItems({
      items: [{ title: "x", bodyMarkdown: "y", tagIds: [go] }],
    }, auth)
      .catch((e) => e);
    assert.ok(noKey instanceof ConnectError && noKey.code === Code.InvalidArgument);
    assert.match(noKey.rawMessage, /items\[0\]\.key/);

    const first = await client.listContentItems({ tagId: go, pageSize: 4 }, auth);
    const second = await client.listContentItems(
      { tagId: go, pageSize: 4, pageToken: first.nextPageToken },
      auth,
    );
    assert.deepEqual(
      [...first.items, ...second.items].map((i) => i.title),
      ["Borrowing", "Go 0", "Go 1", "Go 2", "Go 3", "Go 4"],
    );
    assert.equal((await client.listContentItems({ tagId: rust }, auth)).items.length, 0);

    const preview = await client.previewTemplate({
      source: {
        case: "template",
        value: { name: "p", subject: "{{ item.title }}", htmlBody: "{{ item.html }}|{{ item.html | raw }}" },
      },
      contentItemId: item!.id,
    }, auth);
    assert.equal(preview.subject, "Borrowing");
    const [escaped, raw] = preview.htmlBody.split("|");
    assert.match(escaped, /^&lt;h1&gt;Task&lt;\/h1&gt;/, "output is escaped…");
    assert.match(raw, /^<h1>Task<\/h1>/, "…unless the template says raw");

    await client.deleteContentItem({ id: item!.id }, auth);
    const gone = await client.getContentItem({ id: item!.id }, auth).catch((e) => e);
    assert.ok(gone instanceof ConnectError && gone.code === Code.NotFound);
  } finally {
    await bench.close();
  }
});
