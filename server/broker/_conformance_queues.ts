/** Conformance steps about queues: order, delays, pause, claims, removal, counts, rebuild, wake-ups. */
import assert from "node:assert/strict";
import type { ConformanceStep } from "./conformance.ts";
import { ids, T0, task, TTL, within } from "./_conformance_support.ts";

const claimReq = (queues: string[], max: number, workerId = "w1", now = T0) => ({
  queues,
  max,
  workerId,
  leaseTtlMs: TTL,
  now,
});

export const queueSteps: ConformanceStep[] = [
  {
    name: "claims come out by priority, then seq, across several queues",
    async run({ broker }) {
      const a1 = task("a", 5, 30);
      const a2 = task("a", 9, 40);
      const a3 = task("a", 5, 10);
      const b1 = task("b", 5, 20);
      const b2 = task("b", 0, 1);
      const c1 = task("c", 9, 50);
      const c2 = task("c", 5, 25);
      // Added out of order, and in two calls: the order comes from priority and seq alone.
      await broker.add([a1, b2, c2], T0);
      await broker.add([c1, a3, b1, a2], T0);
      const expected = ids([a2, c1, a3, b1, c2, a1, b2]);
      const got: string[] = [];
      for (let i = 0; i < 4; i++) got.push(...ids(await broker.claim(claimReq(["a", "b", "c"], 2))));
      assert.deepEqual(got, expected);

      // One call for everything returns the same order.
      const again = [task("x", 1, 3), task("y", 7, 9), task("x", 1, 2), task("y", 1, 1)];
      await broker.add(again, T0);
      assert.deepEqual(
        ids(await broker.claim(claimReq(["x", "y"], 10))),
        ids([again[1], again[3], again[2], again[0]]),
      );
    },
  },
  {
    name: "adding a known task again moves it",
    async run({ broker }) {
      const t1 = task("q", 5, 1);
      const t2 = task("q", 5, 2);
      await broker.add([t1, t2], T0);
      await broker.add([{ ...t1, runAt: T0 + 5_000 }], T0);
      assert.deepEqual(await broker.counts("q"), { ready: 1, delayed: 1, leased: 0 });
      await broker.add([{ ...t1, priority: 9, runAt: T0 }], T0);
      assert.deepEqual(await broker.counts("q"), { ready: 2, delayed: 0, leased: 0 });
      assert.deepEqual(ids(await broker.claim(claimReq(["q"], 2))), ids([t1, t2]), "the new priority counts");
      assert.equal(await broker.promote(T0 + 10_000, 10), 0, "nothing was left behind in delayed");
    },
  },
  {
    name: "a task named twice in one add takes its last entry, and held leases are skipped in a mixed batch",
    async run({ broker }) {
      const t1 = task("q", 5, 1);
      const t2 = task("q", 5, 2);
      // Ready then delayed in one call: delayed wins, and nothing is left in ready.
      await broker.add([t1, { ...t1, runAt: T0 + 5_000 }, t2], T0);
      assert.deepEqual(await broker.counts("q"), { ready: 1, delayed: 1, leased: 0 });
      // Delayed then ready: ready wins, and nothing is left in delayed to be promoted twice.
      await broker.add([{ ...t1, runAt: T0 + 5_000 }, { ...t1, priority: 9 }], T0);
      assert.deepEqual(await broker.counts("q"), { ready: 2, delayed: 0, leased: 0 });
      const [lease] = await broker.claim(claimReq(["q"], 1));
      assert.equal(lease.taskId, t1.id, "the last entry's priority counts");
      // The leased task is left in flight while the others of the call move.
      const t3 = task("q", 5, 3, T0 + 5_000);
      await broker.add([t2, t1, t3], T0);
      assert.deepEqual(await broker.counts("q"), { ready: 1, delayed: 1, leased: 1 });
      assert.equal(await broker.promote(T0 + 10_000, 10), 1);
      assert.deepEqual(ids(await broker.claim(claimReq(["q"], 5))), ids([t2, t3]));
    },
  },
  {
    name: "delayed tasks become claimable only when promoted at their time, keeping their priority",
    async run({ broker }) {
      const late = task("q", 9, 1, T0 + 1_000);
      const later = task("q", 5, 2, T0 + 2_000);
      const now = task("q", 5, 3);
      await broker.add([late, later, now], T0);
      assert.deepEqual(await broker.counts("q"), { ready: 1, delayed: 2, leased: 0 });
      assert.equal(await broker.promote(T0 + 999, 100), 0);
      await broker.add([task("r", 5, 4, T0 + 500)], T0);
      assert.equal(await broker.promote(T0 + 1_000, 100), 2, "the due task of each queue moves");
      assert.deepEqual(await broker.counts("q"), { ready: 2, delayed: 1, leased: 0 });
      assert.deepEqual(ids(await broker.claim(claimReq(["q"], 5, "w1", T0 + 1_000))), ids([late, now]));

      const many = [1, 2, 3].map((i) => task("d", 5, i, T0 + 100 * i));
      await broker.add(many, T0);
      assert.equal(await broker.promote(T0 + 10_000, 2), 2, "the limit holds");
      assert.equal(await broker.promote(T0 + 10_000, 2), 2, "then the rest (later of q, last of d)");
      assert.equal(await broker.promote(T0 + 10_000, 2), 0);
      assert.deepEqual(ids(await broker.claim(claimReq(["d"], 5))), ids(many));
    },
  },
  {
    name: "claim takes at most max, skips paused queues, and resume brings them back",
    async run({ broker }) {
      const tasks = [1, 2, 3, 4, 5].map((i) => task("p", 5, i));
      const other = [task("o", 1, 1), task("o", 1, 2)];
      await broker.add([...tasks, ...other], T0);
      assert.equal((await broker.claim(claimReq(["p"], 2))).length, 2);
      assert.deepEqual(await broker.claim(claimReq(["p"], 0)), []);

      await broker.setPaused("p", true);
      assert.equal(await broker.isPaused("p"), true);
      assert.equal(await broker.isPaused("o"), false);
      assert.deepEqual(await broker.claim(claimReq(["p"], 5)), []);
      assert.deepEqual(
        ids(await broker.claim(claimReq(["p", "o"], 5))),
        ids(other),
        "only the unpaused queue",
      );
      assert.deepEqual(
        await broker.counts("p"),
        { ready: 3, delayed: 0, leased: 2 },
        "paused keeps its tasks",
      );

      await broker.setPaused("p", false);
      assert.equal(await broker.isPaused("p"), false);
      assert.deepEqual(ids(await broker.claim(claimReq(["o", "p"], 5))), ids(tasks.slice(2)));
      // Pausing a queue nobody used yet is remembered too.
      await broker.setPaused("fresh", true);
      await broker.add([task("fresh", 5, 1)], T0);
      assert.deepEqual(await broker.claim(claimReq(["fresh"], 1)), []);
    },
  },
  {
    name: "a claimed task is never claimed again, and every lease is fresh",
    async run({ broker }) {
      const tasks = Array.from({ length: 30 }, (_, i) => task(i % 2 ? "m" : "n", i % 10, i));
      await broker.add(tasks, T0);
      const first = await broker.claim(claimReq(["m", "n"], 20, "w1"));
      const second = await broker.claim(claimReq(["n", "m"], 20, "w2"));
      assert.equal(first.length, 20);
      assert.equal(second.length, 10);
      assert.deepEqual(await broker.claim(claimReq(["m", "n"], 20, "w3")), []);
      const all = [...first, ...second];
      assert.equal(new Set(ids(all)).size, 30);
      assert.equal(new Set(all.map((l) => l.leaseId)).size, 30);
      for (const lease of first) {
        assert.equal(lease.workerId, "w1");
        assert.equal(lease.expiresAt, T0 + TTL);
        assert.equal(lease.queue, tasks.find((t) => t.id === lease.taskId)!.queue);
      }
    },
  },
  {
    name: "remove forgets a task that is ready, delayed or leased",
    async run({ broker }) {
      const ready = task("q", 5, 1);
      const delayed = task("q", 5, 2, T0 + 1_000);
      const leased = task("q", 5, 3);
      await broker.add([ready, delayed, leased], T0);
      await broker.remove(ready.id, "q");
      const [lease] = await broker.claim(claimReq(["q"], 1));
      assert.equal(lease.taskId, leased.id);
      await broker.remove(leased.id, "q");
      await broker.remove(delayed.id, "q");
      await broker.remove("never-known", "q");
      await broker.remove("never-known", "never-used");
      assert.deepEqual(await broker.counts("q"), { ready: 0, delayed: 0, leased: 0 });
      assert.equal(await broker.promote(T0 + 5_000, 10), 0);
      assert.deepEqual(await broker.claim(claimReq(["q"], 5, "w1", T0 + 5_000)), []);
      assert.deepEqual(await broker.takeExpired(T0 + 60_000, 10), []);
      assert.deepEqual(await broker.leasesOf("w1"), []);
      assert.equal(await broker.release(lease.taskId, lease.leaseId), false);
    },
  },
  {
    name: "counts per queue, zero for a queue never used",
    async run({ broker }) {
      await broker.add([task("c", 5, 1), task("c", 5, 2), task("c", 5, 3), task("c", 5, 4, T0 + 1)], T0);
      await broker.add([task("d", 5, 1)], T0);
      await broker.claim(claimReq(["c"], 1));
      assert.deepEqual(await broker.counts("c"), { ready: 2, delayed: 1, leased: 1 });
      assert.deepEqual(await broker.counts("d"), { ready: 1, delayed: 0, leased: 0 });
      assert.deepEqual(await broker.counts("unused"), { ready: 0, delayed: 0, leased: 0 });
    },
  },
  {
    name: "a bad priority, seq or runAt is refused and changes nothing",
    async run({ broker }) {
      for (
        const bad of [{ priority: 10 }, { priority: -1 }, { priority: 1.5 }, { seq: -1 }, { seq: 1e13 }, {
          runAt: NaN,
        }]
      ) {
        await assert.rejects(broker.add([task("v", 5, 1), { ...task("v", 5, 2), ...bad }], T0), RangeError);
      }
      assert.deepEqual(await broker.counts("v"), { ready: 0, delayed: 0, leased: 0 });
    },
  },
  {
    name: "needsRebuild is true until markRebuilt, and again after the state is lost",
    async run(fixture) {
      let broker = fixture.broker;
      assert.equal(await broker.needsRebuild(), true, "a fresh broker has nothing");
      await broker.markRebuilt();
      assert.equal(await broker.needsRebuild(), false);
      await broker.add([task("q", 5, 1)], T0);
      assert.equal(await broker.needsRebuild(), false);

      broker = await fixture.loseState();
      assert.equal(await broker.needsRebuild(), true);
      assert.deepEqual(await broker.counts("q"), { ready: 0, delayed: 0, leased: 0 });
      await broker.markRebuilt();
      assert.equal(await broker.needsRebuild(), false);
    },
  },
  {
    name: "notify reaches subscribers, also of another instance, until they unsubscribe",
    async run({ broker, peer }) {
      const other = await peer();
      const heard: string[] = [];
      let wake!: (queue: string) => void;
      const first = new Promise<string>((resolve) => wake = resolve);
      const unsubscribe = await other.subscribe((queue) => {
        heard.push(queue);
        wake(queue);
      });
      await broker.notify("emails");
      assert.equal(await within(first, 5_000, "the first wake-up"), "emails");

      await unsubscribe();
      await broker.notify("after-unsubscribe");
      // Wake-ups arrive in order, so once a later subscriber hears "last", the one before was delivered too.
      let last!: () => void;
      const lastHeard = new Promise<void>((resolve) => last = resolve);
      const unsubscribeLast = await other.subscribe((queue) => queue === "last" && last());
      await broker.notify("last");
      await within(lastHeard, 5_000, "the last wake-up");
      await unsubscribeLast();
      assert.deepEqual(heard, ["emails"]);
    },
  },
];
