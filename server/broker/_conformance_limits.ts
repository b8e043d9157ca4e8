/**
 * Conformance steps about limits and routing: a queue's concurrency and rate limits,
 * limit groups across queues, and claims that take only the task types a worker named.
 */
import assert from "node:assert/strict";
import type { BrokerTask, ClaimRequest } from "./broker.ts";
import type { ConformanceStep } from "./conformance.ts";
import { ids, T0, task, TTL } from "./_conformance_support.ts";

const claimReq = (queues: string[], max: number, extra: Partial<ClaimRequest> = {}): ClaimRequest => ({
  queues,
  max,
  workerId: "w1",
  leaseTtlMs: TTL,
  now: T0,
  ...extra,
});

const typed = (t: BrokerTask, type: string): BrokerTask => ({ ...t, type });
const grouped = (t: BrokerTask, group: string): BrokerTask => ({ ...t, group });

export const limitSteps: ConformanceStep[] = [
  {
    name: "a queue's concurrency limit caps its leases, whoever claims",
    async run({ broker, peer }) {
      await broker.setLimits({ queue: "q" }, { concurrency: 2, ratePerSecond: 0, burst: 0 });
      const tasks = [1, 2, 3, 4, 5].map((seq) => task("q", 5, seq));
      await broker.add(tasks, T0);
      const hints: number[] = [];
      const first = await broker.claim(claimReq(["q"], 5, { onLimited: (ms) => hints.push(ms) }));
      assert.deepEqual(ids(first), ids(tasks.slice(0, 2)));
      assert.deepEqual(hints, [0], "short because of a concurrency limit: retry when a task ends");
      const other = await peer();
      assert.deepEqual(await other.claim(claimReq(["q"], 5, { workerId: "w2" })), [], "another instance too");
      assert.equal(await broker.release(first[0].taskId, first[0].leaseId), true);
      assert.deepEqual(ids(await other.claim(claimReq(["q"], 5, { workerId: "w2" }))), ids([tasks[2]]));
      await broker.setLimits({ queue: "q" }, null);
      assert.equal((await broker.claim(claimReq(["q"], 5))).length, 2, "no limit once removed");
    },
  },
  {
    name: "a queue's rate limit is a token bucket: burst at once, then the rate",
    async run({ broker }) {
      await broker.setLimits({ queue: "q" }, { concurrency: 0, ratePerSecond: 10, burst: 3 });
      await broker.add(Array.from({ length: 20 }, (_, i) => task("q", 5, i + 1)), T0);
      const hints: number[] = [];
      const burst = await broker.claim(claimReq(["q"], 10, { onLimited: (ms) => hints.push(ms) }));
      assert.equal(burst.length, 3, "the burst");
      assert.deepEqual(hints, [100], "the next token is due in 100 ms");
      assert.equal((await broker.claim(claimReq(["q"], 10))).length, 0, "no token left");
      assert.equal((await broker.claim(claimReq(["q"], 10, { now: T0 + 250 }))).length, 2, "10/s for 250 ms");
      assert.equal(
        (await broker.claim(claimReq(["q"], 10, { now: T0 + 5_000 }))).length,
        3,
        "never above burst",
      );
    },
  },
  {
    name: "a limit group caps its tasks across queues; others pass it by",
    async run({ broker, peer }) {
      await broker.setLimits({ group: "camp-1" }, { concurrency: 1, ratePerSecond: 0, burst: 0 });
      const g1 = grouped(task("a", 9, 1), "camp-1");
      const g2 = grouped(task("a", 9, 2), "camp-1");
      const free = task("a", 0, 3);
      const g3 = grouped(task("b", 9, 4), "camp-1");
      await broker.add([g1, g2, free, g3], T0);
      const taken = await broker.claim(claimReq(["a"], 3));
      assert.deepEqual(ids(taken), ids([g1, free]), "g2 is passed over, not lost");
      assert.equal(await broker.groupRunning("camp-1"), 1);
      const other = await peer();
      assert.deepEqual(await other.claim(claimReq(["b"], 3, { workerId: "w2" })), [], "the group is full");
      assert.deepEqual(await broker.counts("a"), { ready: 1, delayed: 0, leased: 2 });
      await broker.release(taken[0].taskId, taken[0].leaseId);
      assert.equal(await broker.groupRunning("camp-1"), 0);
      assert.deepEqual(ids(await other.claim(claimReq(["a", "b"], 3, { workerId: "w2" }))), ids([g2]));
    },
  },
  {
    name: "a limit group's rate and a removed or expired lease free its slots",
    async run({ broker }) {
      await broker.setLimits({ group: "example.org" }, { concurrency: 2, ratePerSecond: 1, burst: 2 });
      const tasks = [1, 2, 3, 4].map((seq) => grouped(task("q", 5, seq), "example.org"));
      await broker.add(tasks, T0);
      const two = await broker.claim(claimReq(["q"], 4));
      assert.equal(two.length, 2);
      await broker.remove(two[0].taskId, "q");
      assert.equal(await broker.groupRunning("example.org"), 1, "a removed task stops counting");
      assert.equal((await broker.claim(claimReq(["q"], 4))).length, 0, "a slot, but no token");
      assert.equal(
        (await broker.claim(claimReq(["q"], 4, { now: T0 + 1_000 }))).length,
        1,
        "a token a second",
      );
      assert.equal((await broker.takeExpired(T0 + 2_000 + TTL, 10)).length, 2);
      assert.equal(await broker.groupRunning("example.org"), 0, "expired leases stop counting");
    },
  },
  {
    name: "a restored lease counts against its limit group",
    async run({ broker }) {
      await broker.setLimits({ group: "g" }, { concurrency: 1, ratePerSecond: 0, burst: 0 });
      const running = grouped(task("q", 5, 1), "g");
      await broker.restoreLeases([{
        taskId: running.id,
        queue: "q",
        leaseId: "q/restored",
        workerId: "w0",
        expiresAt: T0 + TTL,
        group: "g",
      }]);
      await broker.add([grouped(task("q", 5, 2), "g")], T0);
      assert.deepEqual(await broker.claim(claimReq(["q"], 1)), []);
      assert.equal(await broker.release(running.id, "q/restored"), true);
      assert.equal((await broker.claim(claimReq(["q"], 1))).length, 1);
    },
  },
  {
    name: "a claim naming task types takes only those; the rest wait for a worker that has them",
    async run({ broker }) {
      const auth = typed(task("emails", 9, 1), "email.send");
      const promo = typed(task("emails", 5, 2), "email.promo");
      const untyped = task("emails", 0, 3);
      await broker.add([auth, promo, untyped], T0);
      const third = await broker.claim(claimReq(["emails"], 3, { types: ["email.promo"] }));
      assert.deepEqual(ids(third), ids([promo, untyped]), "a task without a type goes to anyone");
      assert.deepEqual(await broker.claim(claimReq(["emails", "other"], 3, { types: ["email.promo"] })), []);
      assert.deepEqual(
        ids(await broker.claim(claimReq(["emails"], 3, { types: ["email.send"] }))),
        ids([auth]),
      );
    },
  },
  {
    name: "tasks passed over in one queue do not starve another queue of the same claim",
    async run({ broker }) {
      const blocked = Array.from({ length: 5 }, (_, i) => typed(task("a", 9, i + 1), "other"));
      const mine = typed(task("b", 0, 100), "mine");
      await broker.add([...blocked, mine], T0);
      assert.deepEqual(ids(await broker.claim(claimReq(["a", "b"], 2, { types: ["mine"] }))), ids([mine]));
      assert.deepEqual(await broker.counts("a"), { ready: 5, delayed: 0, leased: 0 });
    },
  },
];
