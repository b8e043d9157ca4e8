/**
 * Tag approval and the tag tree against a real server: a member's suggestion arrives
 * live; approve it with an edited name, type and parent (picked from the tree), map
 * one onto an existing tag, reject one with a reason; browse the tree.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { SuggestionStatus, TagService, TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { bearer } from "./_support/raw_worker.ts";
import { KEYS, renderTui, startTuiHarness } from "./_support/tui_harness.ts";

Deno.test("TUI tag approval and tag tree", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  const h = await startTuiHarness();
  const programming = (await h.tags.createTag({ name: "Programming", type: TagType.DOMAIN })).tag!;
  const python =
    (await h.tags.createTag({ name: "Python", type: TagType.LANGUAGE, parentId: programming.id }))
      .tag!;
  await h.tags.createTag({ name: "JavaScript", type: TagType.LANGUAGE, parentId: programming.id });
  const member = await h.user("member");
  const memberTags = createClient(TagService, h.server.grpc());
  const suggest = (name: string, reason = "") =>
    memberTags.suggestTag({ name, type: TagType.LANGUAGE, reason }, bearer(member.token));
  const session = await h.session("admin");
  const screen = renderTui({ url: h.url, session, initialView: "suggestions" }, { columns: 120, rows: 36 });
  try {
    await t.step("a suggestion made through the API appears live", async () => {
      await screen.waitFor("no pending suggestions");
      await suggest("Zig", "systems language");
      const frame = await screen.waitFor("Tag approval 1 pending");
      assert.match(frame, /Zig\s+language\s+—\s+1\s+\S+\s+systems language/);
    });

    await t.step("approve with an edited name, type and a parent picked from the tree", async () => {
      screen.press("a");
      await screen.waitFor("Approve suggestion “Zig”");
      screen.press(KEYS.backspace, KEYS.backspace, KEYS.backspace, ..."Ziglang");
      await screen.waitFor(/Name\s+Ziglang/);
      screen.press(KEYS.tab, KEYS.right);
      await screen.waitFor("◀ skill_level ▶");
      screen.press(KEYS.tab, " ");
      await screen.waitFor("Parent for Ziglang");
      await screen.waitFor("Programming  [domain]");
      screen.press(..."progr");
      await screen.waitFor((f) => f.includes("find: progr") && !f.includes("Python  [language]"));
      screen.press(KEYS.down, KEYS.enter);
      await screen.waitFor(/Parent\s+Programming/);
      screen.press(KEYS.enter);
      await screen.waitFor("approved: tag Ziglang created");
      await screen.waitFor("no pending suggestions");
      const { tag } = await h.tags.getTag({ key: { case: "name", value: "Ziglang" } });
      assert.equal(tag?.type, TagType.SKILL_LEVEL);
      assert.equal(tag?.parentId, programming.id);
    });

    await t.step("map onto an existing tag: the picker, then a confirmation", async () => {
      await suggest("Py");
      await screen.waitFor(/Py\s+language/);
      screen.press("m");
      await screen.waitFor("Map “Py” onto which tag?");
      screen.press(..."pyth");
      await screen.waitFor((f) => f.includes("Python  [language]") && !f.includes("JavaScript"));
      screen.press(KEYS.enter);
      await screen.waitFor("Map “Py” onto Python? “Py” becomes an alias of Python. y/n");
      screen.press("y");
      await screen.waitFor("mapped onto Python");
      await screen.waitFor("no pending suggestions");
      const { tag } = await h.tags.getTag({ key: { case: "name", value: "py" } });
      assert.equal(tag?.id, python.id);
    });

    await t.step("reject with a reason, after a confirmation", async () => {
      await suggest("Cobol");
      await screen.waitFor(/Cobol\s+language/);
      screen.press("x");
      await screen.waitFor("Reject “Cobol”, reason:");
      screen.press(KEYS.enter);
      await screen.waitFor("a rejection needs a reason");
      screen.press(..."not taught here", KEYS.enter);
      await screen.waitFor("Reject “Cobol” because “not taught here”? y/n");
      screen.press("y");
      await screen.waitFor("suggestion rejected");
      await screen.waitFor("no pending suggestions");
      const { suggestions } = await h.tags.listSuggestions({ status: SuggestionStatus.REJECTED });
      assert.deepEqual(suggestions.map((s) => [s.name, s.rejectionReason]), [["Cobol", "not taught here"]]);
    });

    await t.step("a suggestion decided elsewhere leaves the queue live", async () => {
      const made = await suggest("Rust");
      await screen.waitFor(/Rust\s+language/);
      assert.equal(made.result.case, "suggestion");
      await h.tags.rejectSuggestion({ id: made.result.value!.id, reason: "duplicate" });
      await screen.waitFor("no pending suggestions");
    });

    await t.step("the tag tree: indented, filtered with /, enter shows a tag", async () => {
      screen.press("7");
      let frame = await screen.waitFor("Tag tree 4 tags");
      assert.match(frame, /▸ Programming {2}\[domain\] 3/);
      assert.match(frame, /\n {4}Python {2}\[language\]/);
      assert.match(frame, /\n {4}Ziglang {2}\[skill_level\]/);
      screen.press("/", ..."pyth", KEYS.enter);
      frame = await screen.waitFor("filter: pyth");
      assert.doesNotMatch(frame, /JavaScript/);
      screen.press(KEYS.enter);
      frame = await screen.waitFor("aliases: Py");
      assert.match(frame, /Programming › Python/);
      // Two escapes in one read are one meta-escape to ink: one at a time, as a person types.
      screen.press(KEYS.esc);
      await screen.waitForGone("aliases: Py");
      screen.press(KEYS.esc);
      await screen.waitFor("JavaScript");
    });
  } finally {
    screen.unmount();
    await h.close();
  }
});
