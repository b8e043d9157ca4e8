import assert from "node:assert/strict";
import { IndexedHeap } from "./_indexed_heap.ts";
import { compareScored } from "./_order.ts";

/** A small deterministic generator, so a failure replays exactly. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

Deno.test("indexed heap", async (t) => {
  await t.step("pops by score, then id, like a Redis ZSET", () => {
    const heap = new IndexedHeap();
    heap.set("b", 2);
    heap.set("c", 1);
    heap.set("a", 2);
    assert.deepEqual([heap.pop(), heap.pop(), heap.pop(), heap.pop()], [
      { id: "c", score: 1 },
      { id: "a", score: 2 },
      { id: "b", score: 2 },
      undefined,
    ]);
  });

  await t.step("re-scoring and deleting agree with a sorted reference under random churn", () => {
    const next = random(7);
    const heap = new IndexedHeap();
    const reference = new Map<string, number>();
    for (let op = 0; op < 20_000; op++) {
      const id = `id${Math.floor(next() * 300)}`;
      const roll = next();
      if (roll < 0.5) {
        const score = Math.floor(next() * 50);
        heap.set(id, score);
        reference.set(id, score);
      } else if (roll < 0.75) {
        assert.equal(heap.delete(id), reference.delete(id));
      } else {
        const expected = [...reference].map(([id, score]) => ({ id, score })).sort(compareScored)[0];
        assert.deepEqual(heap.peek(), expected);
        assert.deepEqual(heap.pop(), expected);
        if (expected) reference.delete(expected.id);
      }
      assert.equal(heap.size, reference.size);
      assert.equal(heap.has(id), reference.has(id));
    }
  });
});
