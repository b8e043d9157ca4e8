/**
 * Tag names are unique under full Unicode case folding across names and aliases, compared
 * after trimming and NFC/NFKC normalisation — for create, lookup, suggest and alias — on the
 * real Postgres; slugs keep the letters of every script; and names stored before folding
 * (migration 0006) are re-keyed.
 */
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { readMigrations } from "../server/db/migrate.ts";
import { migrate } from "../server/db/migrate.ts";
import { createEmptyTestSchema, dropTestSchema } from "../server/db/testing.ts";
import { createMemoryLogger } from "../server/log.ts";
import { refoldTagNames } from "../server/tags/refold.ts";
import { selectTagByNameKey } from "../server/tags/queries.ts";
import { nameKey } from "../server/tags/_names.ts";
import { assertConnectError, startTagHarness } from "../server/tags/testing.ts";

const COMPOSED = "Caf\u00e9"; // é as one code point
const DECOMPOSED = "Cafe\u0301"; // e followed by a combining acute accent

Deno.test("tag names compare trimmed, NFC-normalised and case-insensitively", async (t) => {
  const h = await startTagHarness();
  const admin = h.clientFor("admin").client;
  const member = h.clientFor("member").client;
  try {
    const { tag: python } = await admin.createTag({ name: " Python ", type: TagType.LANGUAGE });
    assert.ok(python);

    await t.step("create stores the trimmed name and a slug", () => {
      assert.equal(python.name, "Python");
      assert.equal(python.slug, "python");
    });

    await t.step("create refuses the same name in any case or with blanks", async () => {
      for (const name of ["PYTHON", " python ", "python", "\tPyThOn\u00a0"]) {
        await assertConnectError(
          admin.createTag({ name, type: TagType.LANGUAGE }),
          Code.AlreadyExists,
          /name .* is already the tag "Python"/,
        );
      }
    });

    await t.step("lookup finds the tag by any case, padded name and by slug", async () => {
      for (const name of ["PYTHON", " python ", "pYtHoN"]) {
        const { tag } = await member.getTag({ key: { case: "name", value: name } });
        assert.equal(tag?.id, python.id);
      }
      const { tag } = await member.getTag({ key: { case: "slug", value: " Python " } });
      assert.equal(tag?.id, python.id);
    });

    await t.step("composed and decomposed accents are one name", async () => {
      const { tag: cafe } = await admin.createTag({ name: DECOMPOSED, type: TagType.TOPIC });
      assert.equal(cafe?.name, COMPOSED, "stored in NFC");
      assert.equal(cafe?.slug, "cafe");
      await assertConnectError(admin.createTag({ name: COMPOSED, type: TagType.TOPIC }), Code.AlreadyExists);
      await assertConnectError(
        admin.createTag({ name: "CAF\u00c9", type: TagType.TOPIC }),
        Code.AlreadyExists,
      );
      for (const name of [COMPOSED, DECOMPOSED, "cafe\u0301", "CAFE\u0301 "]) {
        const { tag } = await member.getTag({ key: { case: "name", value: name } });
        assert.equal(tag?.id, cafe?.id, `lookup of ${JSON.stringify(name)}`);
      }
    });

    await t.step("aliases share the namespace with names, in any case", async () => {
      const { tag } = await admin.addTagAlias({ id: python.id, alias: " Py3 " });
      assert.deepEqual(tag?.aliases, ["Py3"]);
      // Adding it again in another case is a no-op, not a second alias.
      const again = await admin.addTagAlias({ id: python.id, alias: "PY3" });
      assert.deepEqual(again.tag?.aliases, ["Py3"]);
      await assertConnectError(
        admin.createTag({ name: "py3", type: TagType.LANGUAGE }),
        Code.AlreadyExists,
        /already an alias of tag "Python"/,
      );
      const { tag: rust } = await admin.createTag({ name: "Rust", type: TagType.LANGUAGE });
      await assertConnectError(admin.addTagAlias({ id: rust!.id, alias: "PY3" }), Code.AlreadyExists);
      await assertConnectError(admin.addTagAlias({ id: rust!.id, alias: "python" }), Code.AlreadyExists);
      await assertConnectError(admin.addTagAlias({ id: rust!.id, alias: DECOMPOSED }), Code.AlreadyExists);
      const { tag: found } = await member.getTag({ key: { case: "name", value: " pY3" } });
      assert.equal(found?.id, python.id);
    });

    await t.step("an alias in decomposed form resolves from the composed one", async () => {
      const { tag: coffee } = await admin.createTag({ name: "Coffee", type: TagType.TOPIC });
      await admin.addTagAlias({ id: coffee!.id, alias: "Kaffe\u0301e" });
      const { tag } = await member.getTag({ key: { case: "name", value: "KAFF\u00c9E" } });
      assert.equal(tag?.id, coffee?.id);
      assert.deepEqual(tag?.aliases, ["Kaff\u00e9e"]);
      await admin.removeTagAlias({ id: coffee!.id, alias: "kaff\u00e9e" });
      await assertConnectError(member.getTag({ key: { case: "name", value: "Kaff\u00e9e" } }), Code.NotFound);
    });

    await t.step("a suggestion of an existing name or alias answers with the tag", async () => {
      for (const name of ["PYTHON", " python ", "py3", "PY3 "]) {
        const res = await member.suggestTag({ name, type: TagType.LANGUAGE });
        assert.equal(res.result.case, "existingTag", name);
        assert.equal(res.result.value?.id, python.id);
      }
      const res = await member.suggestTag({ name: "CAFE\u0301", type: TagType.TOPIC });
      assert.equal(res.result.case, "existingTag");
      const [{ n }] = await h.sql<{ n: number }[]>`select count(*)::int as n from tag_suggestions`;
      assert.equal(n, 0, "no suggestion row for names that exist");
    });

    await t.step("duplicate suggestions differing in case and accents form merge into one", async () => {
      const other = h.clientFor("member");
      const first = await member.suggestTag({
        name: "Cr\u00e8me br\u00fbl\u00e9e",
        type: TagType.TOPIC,
        reason: "dessert",
      });
      const second = await other.client.suggestTag({
        name: " CRE\u0300ME BRU\u0302LE\u0301E ",
        type: TagType.TOPIC,
      });
      assert.equal(first.result.case, "suggestion");
      assert.equal(second.result.case, "suggestion");
      assert.equal(second.result.value?.id, first.result.value?.id);
      assert.equal(second.result.value?.suggestedBy.length, 2);
      assert.equal(second.result.value?.name, "Cr\u00e8me br\u00fbl\u00e9e", "the first spelling is kept");
    });

    await t.step("a renamed tag keeps the namespace: case-only renames are allowed", async () => {
      const { tag } = await admin.updateTag({ id: python.id, name: "python" });
      assert.equal(tag?.name, "python");
      assert.equal(tag?.slug, "python");
      // Renaming to its own alias swaps: the alias gives way to the name.
      const { tag: swapped } = await admin.updateTag({ id: python.id, name: "PY3" });
      assert.equal(swapped?.name, "PY3");
      assert.deepEqual(swapped?.aliases, []);
      assert.equal(swapped?.slug, "py3");
      const { tag: back } = await admin.updateTag({ id: python.id, name: "Python" });
      assert.equal(back?.slug, "python");
      const { tag: rust } = await member.getTag({ key: { case: "name", value: "rust" } });
      await assertConnectError(admin.updateTag({ id: rust!.id, name: " PYTHON" }), Code.AlreadyExists);
    });
  } finally {
    await h.close();
  }
});

Deno.test("invalid names, types and ids are refused naming the field", async () => {
  const h = await startTagHarness();
  const admin = h.clientFor("admin").client;
  const member = h.clientFor("member").client;
  try {
    await assertConnectError(
      admin.createTag({ name: "   ", type: TagType.TOPIC }),
      Code.InvalidArgument,
      /^name is empty/,
    );
    await assertConnectError(
      admin.createTag({ name: "x".repeat(65), type: TagType.TOPIC }),
      Code.InvalidArgument,
      /^name is 65 characters long/,
    );
    // 64 characters, one of them astral: counted as characters, not UTF-16 units.
    const { tag } = await admin.createTag({ name: "\u{1F40D}" + "y".repeat(63), type: TagType.TOPIC });
    assert.ok(tag);
    await assertConnectError(
      admin.createTag({ name: "two\nlines", type: TagType.TOPIC }),
      Code.InvalidArgument,
      /^name contains a control character/,
    );
    await assertConnectError(admin.createTag({ name: "Go" }), Code.InvalidArgument, /^type is not set/);
    await assertConnectError(
      admin.createTag({ name: "Go", type: TagType.LANGUAGE, parentId: "nope" }),
      Code.InvalidArgument,
      /^parent_id "nope" is not an id/,
    );
    await assertConnectError(
      admin.createTag({ name: "Go", type: TagType.LANGUAGE, parentId: crypto.randomUUID() }),
      Code.NotFound,
      /^parent_id .* names no tag/,
    );
    await assertConnectError(
      admin.createTag({ name: "Go", type: TagType.LANGUAGE, description: "d".repeat(1001) }),
      Code.InvalidArgument,
      /^description is 1001 characters long/,
    );
    await assertConnectError(
      admin.addTagAlias({ id: tag!.id, alias: "" }),
      Code.InvalidArgument,
      /^alias is empty/,
    );
    await assertConnectError(
      member.suggestTag({ name: "\u0007", type: TagType.TOPIC }),
      Code.InvalidArgument,
      /^name/,
    );
    await assertConnectError(
      member.suggestTag({ name: "Zig", type: TagType.LANGUAGE, reason: "r".repeat(501) }),
      Code.InvalidArgument,
      /^reason is 501 characters long/,
    );
    await assertConnectError(member.getTag({}), Code.InvalidArgument, /^key is not set/);
    await assertConnectError(
      member.getTag({ key: { case: "id", value: "42" } }),
      Code.InvalidArgument,
      /^id "42"/,
    );
    await assertConnectError(member.getTag({ key: { case: "slug", value: "nothing-here" } }), Code.NotFound);
  } finally {
    await h.close();
  }
});

Deno.test("slugs spell out symbols and stay unique", async () => {
  const h = await startTagHarness();
  const admin = h.clientFor("admin").client;
  try {
    const slugs: string[] = [];
    for (const name of ["C", "C++", "C#", "Node.js", "Node JS", "node-js", "\u65e5\u672c\u8a9e"]) {
      const { tag } = await admin.createTag({ name, type: TagType.LANGUAGE });
      slugs.push(tag!.slug);
    }
    assert.deepEqual(slugs, [
      "c",
      "c-plus-plus",
      "c-sharp",
      "node-js",
      "node-js-2",
      "node-js-3",
      "\u65e5\u672c\u8a9e",
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("names are unique under full case folding, not just lower-casing", async () => {
  const h = await startTagHarness();
  const admin = h.clientFor("admin").client;
  const member = h.clientFor("member").client;
  try {
    const pairs: [string, string[]][] = [
      ["Straße", ["STRASSE", "strasse", "STRA\u1e9eE", "Stra\u00adße"]],
      ["İstanbul", ["istanbul", "ISTANBUL", "ıstanbul"]],
      ["ΟΔΟΣ", ["οδος", "Οδός".normalize("NFD").replace(/\u0301/g, "")]],
      ["\ufb01le systems", ["FILE SYSTEMS", "ﬁle Systems"]],
    ];
    for (const [name, twins] of pairs) {
      const { tag } = await admin.createTag({ name, type: TagType.TOPIC });
      for (const twin of twins) {
        await assertConnectError(admin.createTag({ name: twin, type: TagType.TOPIC }), Code.AlreadyExists);
        const { tag: found } = await member.getTag({ key: { case: "name", value: twin } });
        assert.equal(found?.id, tag?.id, `${twin} finds ${name}`);
        const suggested = await member.suggestTag({ name: twin, type: TagType.TOPIC });
        assert.equal(suggested.result.case, "existingTag", twin);
      }
    }
    // Prefixes fold the same way.
    for (const prefix of ["STRAß", "stras", "ıSTAN", "οδοσ"]) {
      const { tags } = await member.listTags({ namePrefix: prefix });
      assert.equal(tags.length, 1, `prefix ${prefix}`);
    }
    // Aliases share the folded namespace.
    const { tag: roads } = await admin.createTag({ name: "Roads", type: TagType.TOPIC });
    await assertConnectError(admin.addTagAlias({ id: roads!.id, alias: "STRASSE" }), Code.AlreadyExists);
    await admin.addTagAlias({ id: roads!.id, alias: "Gasse" });
    await assertConnectError(admin.createTag({ name: "GASSE", type: TagType.TOPIC }), Code.AlreadyExists);
    // Renames too.
    await assertConnectError(admin.updateTag({ id: roads!.id, name: "strasse" }), Code.AlreadyExists);
    // Nothing but ignorable characters is no name.
    await assertConnectError(
      admin.createTag({ name: "\u00ad\u200d", type: TagType.TOPIC }),
      Code.InvalidArgument,
      /^name has no visible character/,
    );
  } finally {
    await h.close();
  }
});

Deno.test("slugs keep the letters of every script, readable and unique", async () => {
  const h = await startTagHarness();
  const admin = h.clientFor("admin").client;
  const member = h.clientFor("member").client;
  try {
    const slugs: Record<string, string> = {};
    for (const name of ["日本語", "日本語!", "Straße", "Ελληνικά", "한국어", "Русский язык", "\u{1F980}"]) {
      const { tag } = await admin.createTag({ name, type: TagType.LANGUAGE });
      slugs[name] = tag!.slug;
    }
    assert.deepEqual(slugs, {
      "日本語": "日本語",
      "日本語!": "日本語-2",
      "Straße": "strasse",
      "Ελληνικά": "ελληνικά",
      "한국어": "한국어",
      "Русский язык": "русский-язык",
      "\u{1F980}": "tag",
    });
    for (const [name, slug] of Object.entries(slugs)) {
      const { tag } = await member.getTag({ key: { case: "slug", value: slug.toUpperCase() } });
      assert.equal(tag?.name, name, `slug ${slug}`);
    }
  } finally {
    await h.close();
  }
});

Deno.test("migration 0006 and the start-up refold re-key names stored before folding", async () => {
  const { sql, schema } = await createEmptyTestSchema();
  const dir = await Deno.makeTempDir();
  const log = createMemoryLogger("info");
  try {
    // The schema as it was before 0006, with rows keyed the old way (trim + NFC + lower-case).
    for (const file of await readMigrations()) {
      if (file.version < "0006") await Deno.writeTextFile(`${dir}/${file.file}`, file.sql);
    }
    await migrate(sql, { dir: new URL(`file://${dir}/`) });
    const legacy = (name: string) => name.normalize("NFC").toLowerCase().normalize("NFC");
    const at = new Date(Date.UTC(2026, 0, 1));
    const tags: [string, string][] = [
      ["STRASSE", "strasse"],
      ["Straße", "stra-e"],
      ["日本語", "tag"],
      ["İstanbul", "i-stanbul"],
      ["Python", "python"],
    ];
    const ids: Record<string, string> = {};
    for (const [i, [name, slug]] of tags.entries()) {
      const [{ id }] = await sql<{ id: string }[]>`
        insert into tags (name, name_key, slug, type, created_by, updated_by, created_at, updated_at)
        values (${name}, ${legacy(name)}, ${slug}, 'topic', 'seed', 'seed', ${new Date(at.getTime() + i)},
                ${at}) returning id`;
      ids[name] = id;
      await sql`insert into tag_names (name_key, tag_id, name, is_alias, created_at)
                values (${legacy(name)}, ${id}, ${name}, false, ${at})`;
    }
    await sql`insert into tag_names (name_key, tag_id, name, is_alias, created_at)
              values (${legacy("ΟΔΟΣ")}, ${ids["Python"]}, 'ΟΔΟΣ', true, ${at})`;
    await sql`insert into tag_suggestions (name, name_key, type, created_at)
              values ('Größe', ${legacy("Größe")}, 'topic', ${at})`;

    await migrate(sql);
    // SQL folded the ASCII names exactly; the rest waits for the server.
    const folded = await sql<{ name: string; name_key_folded: boolean }[]>`
      select name, name_key_folded from tags order by created_at`;
    assert.deepEqual(folded.map((r) => [r.name, r.name_key_folded]), [
      ["STRASSE", true],
      ["Straße", false],
      ["日本語", false],
      ["İstanbul", false],
      ["Python", true],
    ]);

    const first = await refoldTagNames(sql, log);
    assert.deepEqual(first, { refolded: 4, collisions: 1 });
    const rows = await sql<{ name: string; name_key: string; slug: string }[]>`
      select name, name_key, slug from tags order by created_at`;
    assert.deepEqual(rows.map((r) => [r.name, r.name_key, r.slug]), [
      ["STRASSE", "strasse", "strasse"],
      ["Straße", "straße", "stra-e"], // collides with STRASSE: kept as it was, and reported
      ["日本語", "日本語", "日本語"], // readable slug instead of the fallback
      ["İstanbul", "istanbul", "i-stanbul"], // a readable slug is kept: links survive
      ["Python", "python", "python"],
    ]);
    assert.ok(
      log.lines.some((l) => /same as another under case folding/.test(String(l.msg)) && l.name === "Straße"),
    );
    assert.equal((await selectTagByNameKey(sql, nameKey("ISTANBUL")))?.id, ids["İstanbul"]);
    assert.equal(
      (await selectTagByNameKey(sql, nameKey("οδος")))?.id,
      ids["Python"],
      "the alias is re-keyed",
    );
    assert.equal((await selectTagByNameKey(sql, nameKey("Straße")))?.id, ids["STRASSE"]);
    const [suggestion] = await sql`select name_key from tag_suggestions`;
    assert.equal(suggestion.name_key, "grösse");

    // Running again changes nothing and still names the collision.
    assert.deepEqual(await refoldTagNames(sql, log), { refolded: 0, collisions: 1 });
    // Once an admin renames it, the next start folds it.
    await sql`update tags set name = 'Straße (Verkehr)' where id = ${ids["Straße"]}`;
    assert.deepEqual(await refoldTagNames(sql, log), { refolded: 1, collisions: 0 });
  } finally {
    await sql.end();
    await dropTestSchema(schema);
    await Deno.remove(dir, { recursive: true });
  }
});
