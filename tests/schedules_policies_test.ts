/**
 * Overlap and catch-up policies on the real server (Postgres and Redis) with a manual
 * clock, the scheduler's iterations run by the test. A fire's task that has not ended
 * (still queued, nobody serves its queue) outlives its 10 s interval; cancelling it ends it.
 * Catch-up is tried after a 10-minute outage (the loop stopped) and after a pause.
 */
import assert from "node:assert/strict";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { CatchUpPolicy, OverlapPolicy } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import type { ScheduleInit } from "../server/schedules/schedules.ts";
import { credentials, openRawWorker } from "./_support/raw_worker.ts";
import { firesOf, scheduleServer } from "./_support/schedules.ts";
import { eventually, until } from "./_support/until.ts";

const MINUTE = 60_000;

Deno.test("overlap and catch-up policies", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  // Leases of 2 minutes: the running task's worker sends no heartbeat while the clock moves 30 s.
  const s = await scheduleServer({ redis: true, env: { TASKMESH_WORKER_HEARTBEAT_MS: "60000" } });
  const { schedules, clock, server } = s;
  const rt = schedules.rt;
  // The test runs each iteration itself.
  await schedules.stop();
  let n = 0;
  const make = (init: Omit<ScheduleInit, "name">) =>
    schedules.create({
      name: `policy-${n++}`,
      interval: durationFromMs(10_000),
      task: { queue: `q${n}`, type: "slow" },
      ...init,
    } as ScheduleInit);
  const step = async (ms: number) => {
    clock.advance(ms);
    await schedules.scheduler.runOnce();
  };
  const state = async (taskId: string | null) => (await rt.get(taskId!))?.task.state;
  try {
    await schedules.scheduler.runOnce();

    await t.step("overlap policies, with a task that outlives its interval", async (t) => {
      const allow = await make({ overlap: OverlapPolicy.ALLOW });
      const skip = await make({ overlap: OverlapPolicy.SKIP });
      const buffer = await make({ overlap: OverlapPolicy.BUFFER_ONE });
      const cancel = await make({ overlap: OverlapPolicy.CANCEL_PREVIOUS });
      await step(0);
      await step(10_000);
      await step(10_000);

      await t.step("allow: every tick has its task, side by side", async () => {
        const fires = await firesOf(server, allow.id);
        assert.deepEqual(fires.map((f) => [f.outcome, f.taskState]), Array(3).fill(["enqueued", "queued"]));
      });
      await t.step(
        "skip: ticks while the first task lives make nothing; once it ends, the next fires",
        async () => {
          const fires = await firesOf(server, skip.id);
          assert.deepEqual(fires.map((f) => f.outcome), ["enqueued", "skipped", "skipped"]);
          await rt.cancel(fires[0].taskId!, "done");
          await step(10_000);
          assert.deepEqual((await firesOf(server, skip.id)).map((f) => f.outcome).at(-1), "enqueued");
        },
      );
      await t.step("buffer one: one fire waits on the live task, further ticks are skipped", async () => {
        let fires = await firesOf(server, buffer.id);
        assert.deepEqual(fires.map((f) => f.outcome), ["enqueued", "buffered", "skipped", "skipped"]);
        assert.equal(await state(fires[1].taskId), "waiting");
        await rt.cancel(fires[0].taskId!, "done");
        assert.equal(await state(fires[1].taskId), "queued", "the buffered task runs once the first ends");
        await step(10_000);
        fires = await firesOf(server, buffer.id);
        assert.equal(fires.at(-1)!.outcome, "buffered");
        assert.equal(await state(fires.at(-1)!.taskId), "waiting");
      });
      await t.step("cancel previous: each tick cancels the live task and fires", async () => {
        const fires = await firesOf(server, cancel.id);
        assert.deepEqual(fires.map((f) => f.outcome), Array(5).fill("enqueued"));
        const states = await Promise.all(fires.map((f) => state(f.taskId)));
        assert.deepEqual(states, ["cancelled", "cancelled", "cancelled", "cancelled", "queued"]);
      });
      for (const x of [allow, skip, buffer, cancel]) await schedules.delete(x.id);
    });

    await t.step("skip, with a task running on a worker past its interval", async () => {
      const { workerKey } = await credentials(server);
      const worker = openRawWorker(server.grpc(), workerKey);
      try {
        worker.send({
          case: "hello",
          value: { workerId: "slow", queues: ["slow-q"], concurrency: 1, version: "test/1" },
        });
        await worker.nextOf("welcome");
        const made = await make({ overlap: OverlapPolicy.SKIP, task: { queue: "slow-q", type: "slow" } });
        await step(10_000 - (clock.now() % 10_000));
        const assign = await worker.nextOf("assign");
        // Its start is written 100 ms after the Assign (docs/ARCHITECTURE.md, "Delivery").
        await eventually(
          "the slow task is recorded running",
          async () => await state(assign.task!.id) === "running" ? true : undefined,
        );
        await step(10_000);
        await step(10_000);
        assert.deepEqual((await firesOf(server, made.id)).map((f) => f.outcome), [
          "enqueued",
          "skipped",
          "skipped",
        ]);
        worker.send({
          case: "result",
          value: {
            taskId: assign.task!.id,
            leaseId: assign.leaseId,
            outcome: { case: "output", value: new TextEncoder().encode('"done"') },
          },
        });
        await until(
          "the slow task succeeded",
          async () => await state(assign.task!.id) === "succeeded" ? true : undefined,
        );
        await step(10_000);
        assert.equal(
          (await firesOf(server, made.id)).at(-1)!.outcome,
          "enqueued",
          "once it ended, the next tick fires",
        );
        await schedules.delete(made.id);
      } finally {
        worker.end();
      }
    });

    const catchUps = async () => {
      const every = { interval: durationFromMs(MINUTE), overlap: OverlapPolicy.ALLOW };
      return {
        skip: await make({ ...every, catchUp: CatchUpPolicy.SKIP }),
        latest: await make({ ...every, catchUp: CatchUpPolicy.ONCE }),
        all: await make({ ...every, catchUp: CatchUpPolicy.ALL }),
        limited: await make({ ...every, catchUp: CatchUpPolicy.ALL, catchUpLimit: 3 }),
        windowed: await make({
          ...every,
          catchUp: CatchUpPolicy.ALL,
          catchUpWindow: durationFromMs(4 * MINUTE),
        }),
      };
    };
    // Aligned to the minute, then one on-time tick each.
    clock.set(Math.ceil(clock.now() / MINUTE) * MINUTE);
    const outageStart = clock.now();
    const expectMissed = async (made: Awaited<ReturnType<typeof catchUps>>, start: number) => {
      const missed = async (id: string) =>
        (await firesOf(server, id)).filter((f) => f.tickAt > start).map((f) => (f.tickAt - start) / MINUTE);
      assert.deepEqual(await missed(made.skip.id), [], "skip fires none of the missed ticks");
      assert.deepEqual(await missed(made.latest.id), [10], "latest fires the last missed tick once");
      assert.deepEqual(await missed(made.all.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.deepEqual(await missed(made.limited.id), [8, 9, 10], "the latest up to the limit");
      assert.deepEqual(await missed(made.windowed.id), [7, 8, 9, 10], "only ticks within the window");
      // Then every policy is back on its ticks.
      await step(30_000);
      for (const x of Object.values(made)) {
        assert.equal((await firesOf(server, x.id)).at(-1)!.tickAt, start + 11 * MINUTE);
      }
    };

    await t.step("catch-up after a 10-minute outage", async () => {
      const made = await catchUps();
      await step(0);
      // Down from just after the tick at outageStart to 30 s after the tenth missed one.
      clock.advance(10 * MINUTE + 30_000);
      await schedules.scheduler.runOnce();
      await expectMissed(made, outageStart);
      for (const x of Object.values(made)) await schedules.delete(x.id);
    });

    await t.step("catch-up after a pause", async () => {
      clock.set(Math.ceil(clock.now() / MINUTE) * MINUTE);
      const start = clock.now();
      const made = await catchUps();
      await step(0);
      for (const x of Object.values(made)) await schedules.pause(x.id, "holiday");
      await step(10 * MINUTE + 30_000);
      for (const x of Object.values(made)) {
        assert.equal((await firesOf(server, x.id)).length, 1, "nothing fires while paused");
        await schedules.resume(x.id);
      }
      await schedules.scheduler.runOnce();
      await expectMissed(made, start);
    });
  } finally {
    await s.close();
  }
});
