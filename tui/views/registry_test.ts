import assert from "node:assert/strict";
import { findView, VIEWS } from "./registry.ts";

Deno.test("`:` finds a view by id, alias, title or unique prefix", () => {
  assert.equal(findView("dead")?.id, "dead");
  assert.equal(findView("dlq")?.id, "dead");
  assert.equal(findView("Tag approval")?.id, "suggestions");
  assert.equal(findView("wor")?.id, "workers");
  assert.equal(findView("  TASKS ")?.id, "tasks");
  // "t" starts tasks, tags (an alias), tree…: ambiguous.
  assert.equal(findView("t"), undefined);
  assert.equal(findView(""), undefined);
  assert.equal(findView("nowhere"), undefined);
  assert.equal(findView("cmp")?.id, "campaigns");
  assert.equal(findView("cron")?.id, "schedules");
  assert.equal(VIEWS.length, 10);
});
