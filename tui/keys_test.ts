import assert from "node:assert/strict";
import type { Capabilities } from "./data/capabilities.ts";
import { bindingsFor, hintLine, keyName, keyPresses, VIEW_BINDINGS, viewActionFor } from "./keys.ts";

const viewer: Capabilities = {
  readTasks: true,
  operate: false,
  readTags: true,
  approveTags: false,
  readCampaigns: true,
  manageCampaigns: false,
};
const admin: Capabilities = {
  readTasks: true,
  operate: true,
  readTags: true,
  approveTags: true,
  readCampaigns: true,
  manageCampaigns: true,
};

Deno.test("key names from ink's input and flags", () => {
  assert.equal(keyName("j", {}), "j");
  assert.equal(keyName("G", { shift: true }), "G");
  assert.equal(keyName("", { return: true }), "enter");
  assert.equal(keyName("", { escape: true }), "esc");
  assert.equal(keyName("", { tab: true, shift: true }), "shift+tab");
  assert.equal(keyName("c", { ctrl: true }), "ctrl+c");
  assert.equal(keyName(" ", {}), "space");
  assert.equal(keyName("", { downArrow: true }), "down");
});

Deno.test("typed-ahead text is split into one press per character", () => {
  assert.deepEqual(keyPresses("jj\r", {}).map((p) => p.name), ["j", "j", "enter"]);
  assert.deepEqual(keyPresses("a b\t", {}).map((p) => p.name), ["a", "space", "b", "tab"]);
  assert.deepEqual(keyPresses("x", {}), [{ name: "x", input: "x" }]);
});

Deno.test("a viewer is offered no action key, and none is bound", () => {
  for (const view of Object.keys(VIEW_BINDINGS) as (keyof typeof VIEW_BINDINGS)[]) {
    for (const b of bindingsFor(view, viewer)) assert.equal(b.needs, undefined, `${view}: ${b.action}`);
  }
  assert.equal(viewActionFor("queues", "p", viewer), undefined);
  assert.equal(viewActionFor("queues", "p", admin)?.action, "pause");
  assert.doesNotMatch(hintLine("queues", viewer), /pause/);
  assert.match(hintLine("queues", admin), /p pause the queue/);
});

Deno.test("every destructive action asks first", () => {
  const destructive = new Set([
    "pause",
    "resume",
    "retry",
    "cancel",
    "requeue",
    "requeue-selected",
    "requeue-all",
    "purge",
    "purge-all",
    "drain",
    "map",
    "reject",
  ]);
  for (const bindings of Object.values(VIEW_BINDINGS)) {
    for (const b of bindings) if (destructive.has(b.action)) assert.equal(b.confirm, true, b.action);
  }
});

Deno.test("no key means two things in one view", () => {
  for (const [view, bindings] of Object.entries(VIEW_BINDINGS)) {
    const keys = bindings.flatMap((b) => b.keys);
    assert.equal(new Set(keys).size, keys.length, view);
  }
});
