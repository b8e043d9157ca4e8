/**
 * The supervisor starts the engine's loops in the order given and stops them in the
 * reverse order, each stop awaited before the next; the engine's own list is the one
 * docs/ARCHITECTURE.md writes down.
 */
import assert from "node:assert/strict";
import type { EngineLoop } from "./_engine_parts.ts";
import { Supervisor } from "./supervisor.ts";

function recorder(events: string[], name: string): EngineLoop {
  let stopped: Promise<void> | undefined;
  return {
    name,
    start: (signal) => {
      events.push(`start ${name}`);
      signal.addEventListener("abort", () => events.push(`abort seen by ${name}`), { once: true });
    },
    stop: () =>
      stopped ??= (async () => {
        // A stop that takes a turn: the next loop must not stop before it has ended.
        await Promise.resolve();
        events.push(`stop ${name}`);
      })(),
  };
}

Deno.test("the supervisor starts loops in order and stops them in reverse, one after another", async () => {
  const events: string[] = [];
  const names = ["lease-reaper", "worker-registry", "lease-sweeper", "promoter"];
  const supervisor = new Supervisor(names.map((n) => recorder(events, n)));
  supervisor.start();
  supervisor.start();
  assert.deepEqual(events, names.map((n) => `start ${n}`), "started once, in order");
  events.length = 0;
  await supervisor.stop();
  assert.deepEqual(events.slice(0, 4), [...names].reverse().map((n) => `stop ${n}`));
  assert.deepEqual(events.slice(4).sort(), names.map((n) => `abort seen by ${n}`).sort());
});

Deno.test("the engine's loops are the four the architecture names, in the written-down order", async () => {
  const source = await Deno.readTextFile(new URL("./runtime.ts", import.meta.url));
  const list = source.match(/new Supervisor\(\[([^\]]*)\]\)/)?.[1];
  assert.equal(list?.replace(/\s+/g, ""), "this.#reaper,this.#writer,this.#sweeper,this.#promoter");
  const doc = await Deno.readTextFile(new URL("../../docs/ARCHITECTURE.md", import.meta.url));
  assert.ok(doc.includes("supervisor.ts starts: lease reaper → registry writer → lease sweeper → promoter"));
  assert.ok(doc.includes("stops:  promoter → lease sweeper → registry writer → lease reaper"));
});
