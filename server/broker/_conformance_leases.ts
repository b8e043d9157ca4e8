/** Conformance steps about leases: extend, expiry, release, leasesOf, restore, and claims racing. */
import assert from "node:assert/strict";
import type { Broker, Lease } from "./broker.ts";
import type { ConformanceStep } from "./conformance.ts";
import { ids, leaseIds, T0, task, TTL } from "./_conformance_support.ts";

const claim = (broker: Broker, queues: string[], max: number, workerId = "w1", now = T0) =>
  broker.claim({ queues, max, workerId, leaseTtlMs: TTL, now });

export const leaseSteps: ConformanceStep[] = [
  {
    name: "extend keeps a lease; takeExpired returns it once, not before its time",
    async run({ broker }) {
      await broker.add([task("q", 5, 1), task("q", 5, 2)], T0);
      const [kept, dropped] = await claim(broker, ["q"], 2);
      assert.deepEqual(await broker.takeExpired(T0 + TTL - 1, 10), []);

      const extended = await broker.extend(
        [{ taskId: kept.taskId, leaseId: kept.leaseId }, {
          taskId: dropped.taskId,
          leaseId: "q/not-the-lease",
        }],
        TTL,
        T0 + 500,
      );
      assert.deepEqual([...extended], [kept.leaseId]);

      const expired = await broker.takeExpired(T0 + TTL, 10);
      assert.deepEqual(expired, [{ ...dropped, expiresAt: T0 + TTL }]);
      assert.deepEqual(await broker.takeExpired(T0 + TTL, 10), [], "exactly once");
      assert.deepEqual(await broker.takeExpired(T0 + 500 + TTL - 1, 10), []);
      assert.deepEqual(await broker.takeExpired(T0 + 500 + TTL, 10), [{
        ...kept,
        expiresAt: T0 + 500 + TTL,
      }]);

      // Once taken, a lease is gone for good: its holder can neither extend nor release it.
      assert.equal((await broker.extend([kept], TTL, T0 + 2_000)).size, 0);
      assert.equal(await broker.release(kept.taskId, kept.leaseId), false);
      assert.deepEqual(await broker.counts("q"), { ready: 0, delayed: 0, leased: 0 });
    },
  },
  {
    name: "adding a task that holds a lease leaves it in flight; once the lease ends it may be added",
    async run({ broker }) {
      const t = task("q", 5, 1);
      await broker.add([t], T0);
      const [lease] = await claim(broker, ["q"], 1);
      // A rebuild over a live broker adds every task Postgres holds queued: one in flight stays leased.
      await broker.add([t], T0 + 1);
      assert.deepEqual(await broker.counts("q"), { ready: 0, delayed: 0, leased: 1 });
      assert.deepEqual(await claim(broker, ["q"], 1, "w2"), [], "never handed out twice");
      assert.equal(await broker.release(lease.taskId, lease.leaseId), true);
      await broker.add([t], T0 + 2);
      assert.deepEqual(await broker.counts("q"), { ready: 1, delayed: 0, leased: 0 });
    },
  },
  {
    name: "a lease past its time that takeExpired has not taken may still be extended",
    async run({ broker }) {
      await broker.add([task("q", 5, 1)], T0);
      const [lease] = await claim(broker, ["q"], 1);
      assert.deepEqual([...await broker.extend([lease], TTL, T0 + 5_000)], [lease.leaseId]);
      assert.deepEqual(await broker.takeExpired(T0 + 5_000 + TTL - 1, 10), []);
    },
  },
  {
    name: "takeExpired goes oldest first across queues and honours its limit",
    async run({ broker }) {
      await broker.add([task("a", 5, 1), task("b", 5, 2), task("c", 5, 3)], T0);
      const [a] = await claim(broker, ["a"], 1, "w1", T0 + 20);
      const [b] = await claim(broker, ["b"], 1, "w1", T0);
      const [c] = await claim(broker, ["c"], 1, "w2", T0 + 10);
      const late = T0 + 10 * TTL;
      assert.deepEqual(leaseIds(await broker.takeExpired(late, 2)), leaseIds([b, c]));
      assert.deepEqual(await broker.takeExpired(late, 2), [a]);
      assert.deepEqual(await broker.takeExpired(late, 2), []);
      assert.deepEqual(await broker.takeExpired(late, 0), []);
    },
  },
  {
    name: "release ends a current lease once; a stale lease is refused",
    async run({ broker }) {
      const t = task("q", 5, 1);
      await broker.add([t], T0);
      const [first] = await claim(broker, ["q"], 1);
      assert.equal(await broker.release(t.id, "q/not-the-lease"), false);
      assert.equal(await broker.release(t.id, first.leaseId), true);
      assert.equal(await broker.release(t.id, first.leaseId), false, "only once");
      assert.deepEqual(await broker.counts("q"), { ready: 0, delayed: 0, leased: 0 });

      // The task runs again (a retry): the old lease stays stale against the new one.
      await broker.add([t], T0 + 1);
      const [second] = await claim(broker, ["q"], 1, "w2", T0 + 1);
      assert.notEqual(second.leaseId, first.leaseId);
      assert.equal(await broker.release(t.id, first.leaseId), false);
      assert.equal((await broker.extend([first], TTL, T0 + 2)).size, 0);
      assert.deepEqual(await broker.leasesOf("w2"), [second]);
      assert.equal(await broker.release(t.id, second.leaseId), true);
      assert.equal(await broker.release("never-known", "nowhere/x"), false);
      assert.equal(await broker.release("never-known", "not-ours"), false);
    },
  },
  {
    name: "releaseMany ends the current leases of many queues at once and counts them",
    async run({ broker }) {
      await broker.add([task("a", 5, 1), task("a", 5, 2), task("b", 5, 3), task("b", 5, 4)], T0);
      const held = await claim(broker, ["a", "b"], 4);
      assert.equal(held.length, 4);
      const [stale] = held;
      assert.equal(await broker.release(stale.taskId, stale.leaseId), true);
      const forged = { taskId: held[1].taskId, leaseId: "a/not-the-lease" };
      assert.equal(
        await broker.releaseMany([...held, forged]),
        3,
        "the stale and the forged one are not counted",
      );
      assert.deepEqual(await broker.leasesOf("w1"), []);
      for (const queue of ["a", "b"]) {
        assert.deepEqual(await broker.counts(queue), { ready: 0, delayed: 0, leased: 0 });
      }
      assert.equal(await broker.releaseMany(held), 0, "only once");
      assert.equal(await broker.releaseMany([]), 0);
    },
  },
  {
    name: "leasesOf lists a worker's current leases across queues",
    async run({ broker }) {
      await broker.add([task("a", 5, 1), task("a", 5, 2), task("b", 5, 3), task("b", 5, 4)], T0);
      const mine = [...await claim(broker, ["a"], 1, "w1"), ...await claim(broker, ["b"], 1, "w1", T0 + 5)];
      const theirs = await claim(broker, ["a", "b"], 5, "w2");
      assert.equal(theirs.length, 2);
      assert.deepEqual(await broker.leasesOf("w1"), mine);
      assert.deepEqual(await broker.leasesOf("w2"), theirs);
      assert.deepEqual(await broker.leasesOf("nobody"), []);

      await broker.release(mine[0].taskId, mine[0].leaseId);
      await broker.takeExpired(T0 + TTL + 4, 10);
      assert.deepEqual(await broker.leasesOf("w1"), [mine[1]], "released and expired leases are gone");
      assert.deepEqual(await broker.leasesOf("w2"), []);
    },
  },
  {
    name: "restoreLeases puts leases back after a loss and never replaces a newer one",
    async run(fixture) {
      const t1 = task("q", 5, 1);
      const t2 = task("q", 5, 2);
      await fixture.broker.add([t1, t2], T0);
      const before = await claim(fixture.broker, ["q"], 2, "w1");
      const broker = await fixture.loseState();

      // The reconciler's view: t1 runs under its old lease; t2 was re-added and claimed anew meanwhile.
      await broker.add([t2], T0 + 1);
      const [newer] = await claim(broker, ["q"], 1, "w2", T0 + 1);
      const restored: Lease[] = before.map((l) => ({ ...l, expiresAt: T0 + 100 + TTL }));
      await broker.restoreLeases(restored);
      await broker.restoreLeases([]);

      assert.deepEqual(await broker.leasesOf("w1"), [restored[0]]);
      assert.deepEqual(await broker.leasesOf("w2"), [newer]);
      assert.deepEqual([...await broker.extend(restored, TTL, T0 + 200)], [restored[0].leaseId]);
      assert.equal(await broker.release(t1.id, restored[0].leaseId), true);
      assert.equal(await broker.release(t2.id, restored[1].leaseId), false);
      assert.deepEqual(await broker.counts("q"), { ready: 0, delayed: 0, leased: 1 });
    },
  },
  {
    name: "many claimers in parallel hand out each task exactly once",
    async run({ broker, peer }) {
      const instances = [broker, await peer(), await peer(), await peer()];
      const one = Array.from({ length: 300 }, (_, i) => task("race", i % 3, i));
      const spread = Array.from({ length: 150 }, (_, i) => task(["r1", "r2", "r3"][i % 3], i % 10, i));
      await broker.add([...one, ...spread], T0);

      const claimAll = async (round: string, queues: string[], total: number) => {
        const leases: Lease[] = [];
        const byWorker = new Map<string, string[]>();
        // Every claimer keeps claiming until a claim comes back empty.
        await Promise.all(Array.from({ length: 24 }, async (_, i) => {
          const instance = instances[i % instances.length];
          const workerId = `${round}-w${i}`;
          byWorker.set(workerId, []);
          for (;;) {
            const got = await claim(instance, queues, 1 + (i % 4), workerId);
            if (got.length === 0) return;
            leases.push(...got);
            byWorker.get(workerId)!.push(...leaseIds(got));
          }
        }));
        assert.equal(leases.length, total, "every task handed out");
        assert.equal(new Set(ids(leases)).size, total, "no task handed out twice");
        assert.equal(new Set(leaseIds(leases)).size, total, "every lease id distinct");
        for (const [workerId, held] of byWorker) {
          assert.deepEqual(leaseIds(await broker.leasesOf(workerId)).sort(), held.sort(), workerId);
        }
      };
      await claimAll("one-queue", ["race"], one.length);
      await claimAll("three-queues", ["r3", "r1", "r2"], spread.length);
      for (const queue of ["race", "r1", "r2", "r3"]) {
        assert.deepEqual(await broker.counts(queue), {
          ready: 0,
          delayed: 0,
          leased: queue === "race" ? 300 : 50,
        });
      }
    },
  },
];
