/** The claim cache: bounded by count and bytes, oldest entries first, takes and re-puts included. */
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { ClaimCache } from "./_claim_cache.ts";
import type { TaskRecord } from "./model.ts";

const T0 = Date.UTC(2026, 0, 1);

/** V8's collector, made callable for this process (the flag only adds the `gc` global). */
function collector(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc");
}

function record(id: string, payloadBytes = 0): TaskRecord {
  return { id, state: "queued", runAt: T0, payload: new Uint8Array(payloadBytes) } as TaskRecord;
}

const held = (cache: ClaimCache, ids: string[]) => ids.filter((id) => cache.take(id, T0) !== undefined);

Deno.test("claim cache: past its bound the oldest entries go, whatever was taken or put again meanwhile", () => {
  const cache = new ClaimCache(4, 1_000);
  for (const id of ["a", "b", "c", "d"]) cache.put(record(id), "1");
  cache.put(record("e"), "1");
  assert.equal(cache.size, 4);
  assert.equal(cache.take("a", T0), undefined, "the oldest went");
  // A take empties a slot in the middle; a put again moves an entry to the back.
  assert.equal(cache.take("c", T0)?.version, "1");
  cache.put(record("b"), "2");
  cache.put(record("f"), "1");
  cache.put(record("g"), "1");
  // d, e, b, f, g: one over the bound, so d (now the oldest) goes.
  assert.equal(cache.size, 4);
  assert.deepEqual(held(cache, ["d", "e", "b", "f", "g"]), ["e", "b", "f", "g"]);
  assert.equal(cache.size, 0);
  // Emptied and filled again past its bound: eviction starts over from the new oldest.
  for (const id of ["h", "i", "j", "k", "l", "m"]) cache.put(record(id), "1");
  assert.deepEqual(held(cache, ["h", "i", "j", "k", "l", "m"]), ["j", "k", "l", "m"]);
});

Deno.test("claim cache: the byte bound evicts the oldest until the payloads fit", () => {
  const cache = new ClaimCache(100, 10);
  cache.put(record("a", 4), "1");
  cache.put(record("b", 4), "1");
  cache.put(record("c", 4), "1");
  assert.deepEqual(held(cache, ["a", "b", "c"]), ["b", "c"]);
  // A payload larger than the bound on its own is not kept.
  cache.put(record("d", 11), "1");
  assert.equal(cache.size, 0);
});

Deno.test("claim cache: a task once taken is not kept, below the bound or at it", async () => {
  const gc = collector();
  // A window of tasks waiting to be claimed, as a campaign keeps: each put, the task put
  // WINDOW puts ago is taken. Below the bound nothing is evicted; at the small bound most are.
  const WINDOW = 5_000;
  for (const bound of [50_000, 2_000]) {
    const cache = new ClaimCache(bound, Number.MAX_SAFE_INTEGER);
    const taken: WeakRef<TaskRecord>[] = [];
    const waiting: TaskRecord[] = [];
    for (let i = 0; i < 30_000; i++) {
      const task = record(`t${i}`, 64);
      cache.put(task, "1");
      waiting.push(task);
      if (waiting.length > WINDOW) {
        const claimed = waiting.shift()!;
        cache.take(claimed.id, T0);
        taken.push(new WeakRef(claimed));
      }
    }
    waiting.length = 0;
    assert.ok(cache.size <= Math.min(bound, WINDOW), `${cache.size} entries`);
    assert.ok(
      cache.orderSlots <= 2 * cache.size + 1024,
      `${cache.orderSlots} slots for ${cache.size} entries`,
    );
    // WeakRef targets live until the current job ends: collect from a later task.
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    const kept = taken.filter((ref) => ref.deref() !== undefined).length;
    assert.ok(kept <= 2 * 1024, `bound ${bound}: ${kept} of ${taken.length} taken tasks are still reachable`);
    assert.ok(cache.take("t29999", T0) !== undefined, "the newest waiting task is there");
  }
});

Deno.test("claim cache: eviction at its bound goes oldest first over many rounds", () => {
  const cache = new ClaimCache(40_000, Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < 120_000; i++) cache.put(record(`t${i}`), "1");
  assert.equal(cache.size, 40_000);
  assert.ok(cache.orderSlots <= 3 * cache.size + 1024);
  assert.ok(cache.take("t119999", T0) !== undefined);
  assert.ok(cache.take("t80000", T0) !== undefined);
  assert.equal(cache.take("t79999", T0), undefined);
});
