/** The claim cache: bounded by count and bytes, oldest entries first, takes and re-puts included. */
import assert from "node:assert/strict";
import { ClaimCache } from "./_claim_cache.ts";
import type { TaskRecord } from "./model.ts";

const T0 = Date.UTC(2026, 0, 1);

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

Deno.test("claim cache: evicting at its bound stays cheap", () => {
  // 80,000 evictions at a bound of 40,000: a fresh keys() per eviction stepped over every
  // slot emptied since the map last compacted (1.4 s here); the cursor steps over each once
  // (about 0.15 s).
  const cache = new ClaimCache(40_000, Number.MAX_SAFE_INTEGER);
  const started = performance.now();
  for (let i = 0; i < 120_000; i++) cache.put(record(`t${i}`), "1");
  const ms = performance.now() - started;
  assert.equal(cache.size, 40_000);
  assert.ok(cache.take("t119999", T0) !== undefined);
  assert.equal(cache.take("t79999", T0), undefined);
  assert.ok(ms < 1_000, `80,000 evictions took ${Math.round(ms)} ms`);
});
