/**
 * Schedules over the real server on a manual clock: an interval schedule fires one task
 * per tick with its labels and key; preview, list filters and paging, pause with a note,
 * resume, trigger now, fires with their tasks' states, update, delete, and every
 * InvalidArgument case naming its field.
 */
import assert from "node:assert/strict";
import { durationFromMs, timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { OverlapPolicy, ScheduleFireOutcome, TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { campaignOwner, scheduledCampaignTicks } from "../server/schedules/campaign_ticks.ts";
import { firesOf, handledUpTo, scheduleServer } from "./_support/schedules.ts";

const T0 = Date.UTC(2026, 5, 1, 12);

Deno.test("schedules over the real server", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  const s = await scheduleServer();
  const { client, as, clock, server } = s;
  try {
    const { schedule } = await client.createSchedule({
      schedule: {
        name: "heartbeat",
        interval: durationFromMs(10_000),
        task: { queue: "beats", type: "health.check", labels: { team: "ops" } },
        overlap: OverlapPolicy.ALLOW,
        labels: { owner: "test" },
      },
    }, as);
    assert.ok(schedule);
    const id = schedule.id;

    await t.step("the next tick is aligned to the interval and described in words", () => {
      assert.equal(timestampDate(schedule.nextFireTime!).getTime(), T0);
      assert.equal(schedule.description, "every 10s");
    });

    await t.step("each tick makes one task carrying the schedule's labels", async () => {
      for (let i = 0; i < 2; i++) {
        await handledUpTo(server, id, T0 + i * 10_000);
        clock.advance(10_000);
      }
      await handledUpTo(server, id, T0 + 20_000);
      const fires = await firesOf(server, id);
      assert.deepEqual(fires.map((f) => f.tickAt), [T0, T0 + 10_000, T0 + 20_000]);
      assert.ok(fires.every((f) => f.outcome === "enqueued" && f.taskState === "queued"));
      const { tasks } = await client.listTasks({ queue: "beats", labels: { schedule: id } }, as);
      assert.equal(tasks.length, 3);
      for (const task of tasks) {
        assert.equal(task.scheduleId, id);
        assert.equal(task.spec?.labels.team, "ops");
        assert.match(task.spec!.idempotencyKey, new RegExp(`^schedule:${id}:`));
      }
    });

    await t.step("preview lists the next fire times without saving", async () => {
      const res = await client.previewSchedule({
        schedule: { cron: "0 8 * * *", timeZone: "Europe/Berlin" },
        count: 3,
        after: timestampFromMs(Date.UTC(2026, 0, 1)),
      }, as);
      assert.equal(res.description, "every day at 08:00 Europe/Berlin");
      assert.deepEqual(res.fireTimes.map((f) => timestampDate(f).toISOString()), [
        "2026-01-01T07:00:00.000Z",
        "2026-01-02T07:00:00.000Z",
        "2026-01-03T07:00:00.000Z",
      ]);
    });

    await t.step(
      "pause with a note stops firing; resume with catch-up skip fires only on-time ticks",
      async () => {
        const paused = await client.pauseSchedule({ id, paused: true, note: "maintenance" }, as);
        assert.equal(paused.schedule?.pauseNote, "maintenance");
        const listed = await client.listSchedules({ paused: true }, as);
        assert.deepEqual(listed.schedules.map((x) => x.name), ["heartbeat"]);
        assert.equal((await client.listSchedules({ paused: false }, as)).schedules.length, 0);
        clock.advance(60_000);
        await s.schedules.scheduler.runOnce();
        assert.equal((await firesOf(server, id)).length, 3);
        await client.resumeSchedule({ id }, as);
        await handledUpTo(server, id, clock.now());
        const fires = await firesOf(server, id);
        assert.deepEqual(fires.map((f) => f.tickAt - T0), [0, 10_000, 20_000, 80_000]);
      },
    );

    await t.step(
      "trigger fires now; after an update to overlap skip, a queued task makes it skip",
      async () => {
        const { fire } = await client.triggerSchedule({ id }, as);
        assert.equal(fire?.outcome, ScheduleFireOutcome.ENQUEUED);
        assert.equal(fire?.taskState, TaskState.QUEUED);
        assert.equal(fire?.manual, true);
        await client.updateSchedule({
          id,
          schedule: {
            name: "heartbeat",
            interval: durationFromMs(10_000),
            task: { queue: "beats", type: "health.check" },
            overlap: OverlapPolicy.SKIP,
            labels: { owner: "test" },
          },
        }, as);
        const again = await client.triggerSchedule({ id }, as);
        assert.equal(again.fire?.outcome, ScheduleFireOutcome.SKIPPED);
        const page = await client.listScheduleFires({ id, pageSize: 2 }, as);
        assert.equal(page.fires.length, 2);
        assert.ok(page.nextPageToken);
        const rest = await client.listScheduleFires({ id, pageSize: 10, pageToken: page.nextPageToken }, as);
        assert.equal(rest.fires.length, 4);
      },
    );

    await t.step("list filters by label and pages by name", async () => {
      await client.createSchedule({
        schedule: { name: "another", cron: "*/5 * * * *", task: { type: "x" }, labels: { owner: "else" } },
      }, as);
      const mine = await client.listSchedules({ labels: { owner: "test" } }, as);
      assert.deepEqual(mine.schedules.map((x) => x.name), ["heartbeat"]);
      const first = await client.listSchedules({ pageSize: 1 }, as);
      assert.deepEqual(first.schedules.map((x) => x.name), ["another"]);
      const second = await client.listSchedules({ pageSize: 1, pageToken: first.nextPageToken }, as);
      assert.deepEqual(second.schedules.map((x) => x.name), ["heartbeat"]);
      assert.equal(second.nextPageToken, "");
    });

    await t.step("every bad input is INVALID_ARGUMENT naming its field", async () => {
      const task = { type: "x" };
      const at = (ms: number) => timestampFromMs(ms);
      const cases: [string, Parameters<typeof client.createSchedule>[0]["schedule"]][] = [
        ["schedule.name", { cron: "* * * * *", task }],
        ["schedule.cron", { name: "n", cron: "61 * * * *", task }],
        ["schedule.cron", { name: "n", cron: "* * * * * * *", task }],
        ["schedule.cron", { name: "n", task }],
        ["schedule.time_zone", { name: "n", cron: "* * * * *", timeZone: "Mars/Olympus", task }],
        ["schedule.interval", { name: "n", cron: "* * * * *", interval: durationFromMs(5000), task }],
        ["schedule.interval", { name: "n", interval: durationFromMs(500), task }],
        ["schedule.once_time", { name: "n", onceTime: at(Date.UTC(1990, 0, 1)), task }],
        ["schedule.end_time", {
          name: "n",
          cron: "* * * * *",
          startTime: at(T0 + 1000),
          endTime: at(T0),
          task,
        }],
        ["schedule.jitter", { name: "n", cron: "* * * * *", jitter: durationFromMs(2 * 3600_000), task }],
        ["schedule.overlap", { name: "n", cron: "* * * * *", overlap: 9 as OverlapPolicy, task }],
        ["schedule.catch_up_limit", { name: "n", cron: "* * * * *", catchUpLimit: 5000, task }],
        ["schedule.catch_up_window", {
          name: "n",
          cron: "* * * * *",
          catchUpWindow: durationFromMs(1),
          task,
        }],
        ["schedule.task", { name: "n", cron: "* * * * *" }],
        ["schedule.task.type", { name: "n", cron: "* * * * *", task: { type: "" } }],
        ["schedule.task.queue", { name: "n", cron: "* * * * *", task: { type: "x", queue: "Bad Queue" } }],
        ["schedule.task.run_time", { name: "n", cron: "* * * * *", task: { type: "x", runTime: at(T0) } }],
        ["schedule.task.idempotency_key", {
          name: "n",
          cron: "* * * * *",
          task: { type: "x", idempotencyKey: "k" },
        }],
        ["schedule.labels", {
          name: "n",
          cron: "* * * * *",
          task,
          labels: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])),
        }],
      ];
      for (const [field, schedule] of cases) {
        await assert.rejects(
          client.createSchedule({ schedule }, as),
          (e) =>
            e instanceof ConnectError && e.code === Code.InvalidArgument &&
            e.rawMessage.startsWith(field + " "),
          `${field}: ${JSON.stringify(schedule, (_, v) => typeof v === "bigint" ? String(v) : v)}`,
        );
      }
      const invalidArg = (field: string) => (e: unknown) =>
        e instanceof ConnectError && e.code === Code.InvalidArgument && e.rawMessage.startsWith(field + " ");
      await assert.rejects(client.getSchedule({ id: "nope" }, as), invalidArg("id"));
      await assert.rejects(
        client.pauseSchedule({ id, paused: true, note: "x".repeat(501) }, as),
        invalidArg("note"),
      );
      await assert.rejects(
        client.previewSchedule({ schedule: { cron: "* * * * *" }, count: 101 }, as),
        invalidArg("count"),
      );
      await assert.rejects(
        client.previewSchedule({ schedule: { cron: "0 8 * * *", timeZone: "Nowhere/Land" } }, as),
        invalidArg("schedule.time_zone"),
      );
      await assert.rejects(client.listScheduleFires({ id, pageToken: "junk" }, as), invalidArg("page_token"));
      await assert.rejects(
        client.updateSchedule({ id, schedule: { name: "" } }, as),
        invalidArg("schedule.name"),
      );
    });

    await t.step(
      "start and end bound the ticks; jitter delays each fire's task less than itself",
      async () => {
        // 1 s past a minute, so each step lands 1 s after a tick (a tick the clock jumps past
        // by more than the 5 s grace would be a missed one, and catch-up skip drops it).
        const minute = Math.ceil(clock.now() / 60_000) * 60_000;
        clock.set(minute + 1000);
        const made = await s.schedules.create({
          name: "bounded",
          interval: durationFromMs(60_000),
          startTime: timestampFromMs(minute + 121_000),
          endTime: timestampFromMs(minute + 241_000),
          jitter: durationFromMs(30_000),
          overlap: OverlapPolicy.ALLOW,
          task: { queue: "bounded", type: "x" },
        });
        assert.equal(made.nextFireAt, minute + 180_000);
        for (let i = 0; i < 5; i++) {
          clock.advance(60_000);
          await handledUpTo(server, made.id, clock.now());
        }
        const fires = await firesOf(server, made.id);
        assert.deepEqual(fires.map((f) => f.tickAt - minute), [180_000, 240_000]);
        assert.equal((await s.schedules.get(made.id)).nextFireAt, null, "no tick is left after the end");
        for (const f of fires) {
          const task = (await s.schedules.rt.get(f.taskId!))!.task;
          assert.ok(task.runAt >= f.tickAt && task.runAt < f.tickAt + 30_000, "jittered within its bound");
        }
        await s.schedules.delete(made.id);
      },
    );

    await t.step("in process: a campaign arms its daily schedule, owned by it, and disarms it", async () => {
      const ticks = scheduledCampaignTicks(s.schedules);
      const campaign = crypto.randomUUID();
      assert.equal(
        await ticks.arm(campaign, { expression: "0 8 * * *", timeZone: "UTC" }, clock.now()),
        null,
      );
      // Armed again (the campaign edited): the same schedule, replaced.
      await ticks.arm(campaign, { expression: "0 9 * * *", timeZone: "UTC" }, clock.now());
      const owned = await s.schedules.ownedBy(campaignOwner(campaign));
      assert.equal(owned.length, 1);
      assert.deepEqual(owned[0].timing, { kind: "cron", cron: "0 9 * * *", timeZone: "UTC" });
      const fire = await s.schedules.trigger(owned[0].id);
      const task = (await s.schedules.rt.get(fire.taskId!))!.task;
      assert.equal(task.type, "campaign.run");
      assert.deepEqual(JSON.parse(new TextDecoder().decode(task.payload)), { campaign_id: campaign });
      await ticks.disarm(campaign);
      assert.deepEqual(await s.schedules.ownedBy(campaignOwner(campaign)), []);
    });

    await t.step("a name already taken is ALREADY_EXISTS; delete removes, tasks stay", async () => {
      await assert.rejects(
        client.createSchedule({ schedule: { name: "another", cron: "* * * * *", task: { type: "x" } } }, as),
        (e) => e instanceof ConnectError && e.code === Code.AlreadyExists,
      );
      await client.deleteSchedule({ id }, as);
      await assert.rejects(
        client.getSchedule({ id }, as),
        (e) => e instanceof ConnectError && e.code === Code.NotFound,
      );
      const { tasks } = await client.listTasks({ queue: "beats" }, as);
      assert.equal(tasks.length, 5);
    });
  } finally {
    await s.close();
  }
});
