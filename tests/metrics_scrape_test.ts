/**
 * /metrics after a known workload on one instance (real Postgres and Redis, a manual
 * clock): every task, worker and auth figure has the exact value the workload implies,
 * the queue-wide gauges are there (this instance holds the reporter lease), and Debian's
 * `promtool check metrics` accepts the text.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { AuthService } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { TaskService, TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { createAdmin } from "../server/auth/first_admin.ts";
import { ManualClock } from "../server/clock.ts";
import { parseSamples, promtoolCheck, sample } from "./_support/prom_text.ts";
import { bearer, credentials, openRawWorker } from "./_support/raw_worker.ts";
import { startTestServer } from "./_support/server.ts";
import { until } from "./_support/until.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("a scrape after a known workload shows its exact counts", opts, async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startTestServer({
    redis: true,
    clock,
    // Two sign-ins a minute per address and email: the third is refused.
    env: { TASKMESH_RATE_LOGIN_IP_EMAIL: "2/1m" },
  });
  const scrape = async () => await (await fetch(`${server.url}/metrics`)).text();
  const samples = async () => parseSamples(await scrape());
  try {
    const { admin, workerKey } = await credentials(server); // one successful sign-in
    const as = bearer(admin);
    const tasks = createClient(TaskService, server.connect());
    const auth = createClient(AuthService, server.connect());

    await t.step("auth: sign-ins by outcome, a refused one, a reused refresh token", async () => {
      for (let i = 0; i < 3; i++) {
        await auth.login({ email: "nobody@example.com", password: "wrong password here" }).catch(() => {});
      }
      await createAdmin(server.deps, {
        email: "second@example.com",
        password: "correct horse battery staple",
      });
      const { tokens } = await auth.login({
        email: "second@example.com",
        password: "correct horse battery staple",
      });
      // The second use is within the reuse grace (a racing tab); the third is reuse.
      for (let i = 0; i < 3; i++) await auth.refresh({ refreshToken: tokens!.refreshToken }).catch(() => {});
      const s = await samples();
      assert.equal(sample(s, 'taskmesh_auth_logins_total{outcome="success"}'), 2);
      assert.equal(sample(s, 'taskmesh_auth_logins_total{outcome="failure"}'), 2);
      assert.equal(sample(s, 'taskmesh_rate_limit_refusals_total{bucket="login_ip_email"}'), 1);
      assert.equal(sample(s, "taskmesh_auth_refresh_reuse_total"), 1);
    });

    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await tasks.enqueue({ task: { queue: "mq-a", type: "work" } }, as)).task!.id);
    }
    await tasks.enqueue({ task: { queue: "mq-b", type: "later", delay: durationFromMs(3_600_000) } }, as);
    await tasks.enqueue({ task: { queue: "mq-c", type: "nobody-takes-it" } }, as);
    clock.advance(2_000);

    const worker = openRawWorker(server.grpc(), workerKey);
    worker.send({ case: "hello", value: { workerId: "w1", queues: ["mq-a"], concurrency: 2, version: "t" } });
    await worker.nextOf("welcome");
    const first = await worker.nextOf("assign");
    const second = await worker.nextOf("assign");
    assert.deepEqual([first.task!.id, second.task!.id], ids.slice(0, 2));
    clock.advance(500);
    worker.send({
      case: "result",
      value: {
        taskId: first.task!.id,
        leaseId: first.leaseId,
        outcome: { case: "output", value: new Uint8Array() },
      },
    });
    assert.equal((await worker.nextOf("resultAck")).accepted, true);
    const third = await worker.nextOf("assign");
    worker.send({
      case: "result",
      value: {
        taskId: second.task!.id,
        leaseId: second.leaseId,
        outcome: { case: "error", value: { message: "bad input", code: "bad_input", retryable: false } },
      },
    });
    assert.equal((await worker.nextOf("resultAck")).accepted, true);
    assert.equal((await tasks.getTask({ id: second.task!.id }, as)).task!.state, TaskState.DEAD);
    clock.advance(1_000);

    await t.step("per worker: connected, slots busy and free, heartbeats", async () => {
      worker.send({
        case: "heartbeat",
        value: { leases: [{ taskId: third.task!.id, leaseId: third.leaseId }] },
      });
      const s = await until("the heartbeat is counted", async () => {
        const s = await samples();
        // Counted on arrival; its time is set once its leases are extended (then the age reads 0).
        return s.get("taskmesh_worker_heartbeats_total") === 1 &&
            s.get('taskmesh_worker_heartbeat_age_seconds{worker="w1"}') === 0
          ? s
          : undefined;
      });
      assert.equal(sample(s, "taskmesh_workers_connected"), 1);
      assert.equal(sample(s, 'taskmesh_worker_slots{state="busy",worker="w1"}'), 1);
      assert.equal(sample(s, 'taskmesh_worker_slots{state="free",worker="w1"}'), 1);
      // The heartbeat came at this clock reading: its age moves with the clock.
      clock.advance(1_500);
      assert.equal(sample(await samples(), 'taskmesh_worker_heartbeat_age_seconds{worker="w1"}'), 1.5);
      clock.advance(-1_500);
    });

    await t.step("per queue: totals, run time and start delay, depth by state, oldest age", async () => {
      // The worker's stream drops with a task running: its lease is lost and the task goes back.
      worker.kill();
      // A scrape is no snapshot: its queue gauges may be read from Postgres just before the counters move.
      const s = await until("the lost lease is counted, its task back in its queue", async () => {
        const s = await samples();
        const lost = s.get('taskmesh_worker_leases_lost_total{queue="mq-a"}') === 1;
        return lost && s.get('taskmesh_queue_tasks{queue="mq-a",state="running"}') === 0 ? s : undefined;
      });
      const a = (name: string) => sample(s, `${name}{queue="mq-a"}`);
      assert.equal(a("taskmesh_tasks_enqueued_total"), 3);
      assert.equal(sample(s, 'taskmesh_tasks_enqueued_total{queue="mq-b"}'), 1);
      assert.equal(a("taskmesh_tasks_started_total"), 3);
      assert.equal(a("taskmesh_tasks_succeeded_total"), 1);
      assert.equal(a("taskmesh_tasks_failed_total"), 2, "the error and the lost lease");
      assert.equal(a("taskmesh_tasks_dead_total"), 1);
      // Runs of 0.5 s, 0.5 s and 1 s; starts 2 s, 2 s and 2.5 s after the tasks were due.
      assert.equal(a("taskmesh_task_run_duration_seconds_count"), 3);
      assert.equal(a("taskmesh_task_run_duration_seconds_sum"), 2);
      assert.equal(sample(s, 'taskmesh_task_run_duration_seconds_bucket{queue="mq-a",le="0.5"}'), 2);
      assert.equal(sample(s, 'taskmesh_task_run_duration_seconds_bucket{queue="mq-a",le="1"}'), 3);
      assert.equal(a("taskmesh_task_start_delay_seconds_count"), 3);
      assert.equal(a("taskmesh_task_start_delay_seconds_sum"), 6.5);
      assert.equal(sample(s, 'taskmesh_task_start_delay_seconds_bucket{queue="mq-a",le="2.5"}'), 3);
      assert.equal(sample(s, 'taskmesh_task_start_delay_seconds_bucket{queue="mq-a",le="1"}'), 0);
      assert.equal(sample(s, "taskmesh_workers_connected"), 0);

      assert.equal(sample(s, "taskmesh_metrics_reporter"), 1);
      const depth = (queue: string, state: string) =>
        sample(s, `taskmesh_queue_tasks{queue="${queue}",state="${state}"}`);
      assert.deepEqual(
        ["waiting", "scheduled", "queued", "running", "dead"].map((state) => depth("mq-a", state)),
        [0, 1, 0, 0, 1],
      );
      assert.equal(depth("mq-b", "scheduled"), 1);
      assert.equal(depth("mq-c", "queued"), 1);
      assert.equal(sample(s, 'taskmesh_queue_oldest_queued_age_seconds{queue="mq-c"}'), 3.5);
      assert.equal(sample(s, 'taskmesh_queue_oldest_queued_age_seconds{queue="mq-b"}'), 0);
      assert.equal(sample(s, 'taskmesh_queue_paused{queue="mq-c"}'), 0);
    });

    await t.step(
      "engine, stores: one rebuild at start, Redis commands timed, the pool measured",
      async () => {
        const s = await samples();
        assert.equal(sample(s, "taskmesh_broker_rebuilds_total"), 1);
        assert.ok(sample(s, 'taskmesh_redis_command_duration_seconds_count{command="evalsha"}') > 0);
        assert.ok(sample(s, "taskmesh_postgres_pool_max_connections") > 0);
        assert.ok(sample(s, "taskmesh_postgres_pool_query_seconds") >= 0);
      },
    );

    await t.step("a limit group's limit that keeps a claim short is counted", async () => {
      await tasks.configureLimitGroup({ group: "smtp:example.com", concurrencyLimit: 1 }, as);
      for (let i = 0; i < 2; i++) {
        await tasks.enqueue({ task: { queue: "mq-g", type: "mail", limitGroup: "smtp:example.com" } }, as);
      }
      const limited = openRawWorker(server.grpc(), workerKey);
      limited.send({
        case: "hello",
        value: { workerId: "w2", queues: ["mq-g"], concurrency: 2, version: "t" },
      });
      await limited.nextOf("assign");
      // Each claim the group's limit cuts short is one; how many a dispatcher makes depends on its wake-ups.
      const s = await until("the throttled claim is counted", async () => {
        const s = await samples();
        return (s.get('taskmesh_task_claims_throttled_total{limit="concurrency"}') ?? 0) >= 1 ? s : undefined;
      });
      assert.equal(sample(s, 'taskmesh_task_claims_throttled_total{limit="rate"}'), 0);
      assert.equal(
        sample(s, 'taskmesh_tasks_started_total{queue="mq-g"}'),
        1,
        "the second waits for the first",
      );
      limited.kill();
    });

    await t.step("promtool check metrics accepts the scrape", async () => {
      const { ok, output } = await promtoolCheck(await scrape());
      assert.ok(ok, output);
    });
  } finally {
    await server.close();
  }
});
