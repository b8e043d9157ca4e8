/**
 * Carries out fire plans (plan.ts) through the task engine, with no transaction of ours
 * open (the engine commits its own): previous tasks are cancelled and new ones enqueued by
 * the engine (runtime.ts: Postgres, then the broker, then the event), each with its tick's
 * idempotency key, so a tick enqueued before a crash or by another instance comes back as
 * the same task. Returns what to record (recordFires). A schedule whose task the engine
 * refuses gets failed fires and moves on.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { TaskSpecSchema } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import type { Sql } from "../db/postgres.ts";
import { toNewTask } from "../tasks/_spec.ts";
import type { NewTask, TaskRecord } from "../tasks/model.ts";
import type { TasksRuntime } from "../tasks/runtime.ts";
import type { TypeDefaultsCache } from "../tasks/type_defaults.ts";
import { fireLabels, type ScheduleRecord, tickKey } from "./model.ts";
import type { TickPlan } from "./plan.ts";
import { type Advance, finishClaims, type FireInsert, insertFires } from "./schedule_queries.ts";
import { jitterOf } from "./timing.ts";

export interface FireJob {
  schedule: ScheduleRecord;
  plans: TickPlan[];
  manual: boolean;
  /** The claim under which the ticks fire; null for a trigger. */
  claimedUntil: number | null;
}

/** The task a schedule's stored spec makes for a tick. */
export function taskForTick(
  s: ScheduleRecord,
  spec: NewTask,
  tickAt: number,
  manual: boolean,
): NewTask {
  return {
    ...spec,
    runAt: tickAt + jitterOf(s.id, tickAt, s.jitterMs),
    idempotencyKey: tickKey(s.id, tickAt, manual),
    labels: { ...spec.labels, ...fireLabels(s.id, tickAt) },
    scheduleId: s.id,
    dependsOn: [],
    dependsOnBatchIndex: [],
    condition: "on_success",
  };
}

function refused(error: unknown): boolean {
  return error instanceof ConnectError &&
    [Code.InvalidArgument, Code.FailedPrecondition, Code.NotFound].includes(error.code);
}

/** One job's tasks, in plan order, appended to `batch`; returns plan index → batch index. */
function addTasks(job: FireJob, base: NewTask, batch: NewTask[]): Map<number, number> {
  const at = new Map<number, number>();
  job.plans.forEach((plan, i) => {
    if (plan.action === "skip") return;
    const task = taskForTick(job.schedule, base, plan.tickAt, job.manual);
    if (plan.action === "buffer") {
      // It waits for the previous task to end, however it ends.
      task.condition = "always";
      if (plan.after?.kind === "task") task.dependsOn = [plan.after.id];
      if (plan.after?.kind === "planned") task.dependsOnBatchIndex = [at.get(plan.after.index)!];
    }
    at.set(i, batch.length);
    batch.push(task);
  });
  return at;
}

async function cancelPrevious(rt: TasksRuntime, jobs: FireJob[]): Promise<void> {
  for (const plan of jobs.flatMap((j) => j.plans)) {
    if (!plan.cancel) continue;
    const reason = `superseded by the schedule's tick at ${new Date(plan.tickAt).toISOString()}`;
    await rt.cancel(plan.cancel, reason).catch((error) => {
      if (!refused(error)) throw error; // it ended meanwhile: nothing to cancel
    });
  }
}

type Made = Map<FireJob, { tasks: Map<number, TaskRecord>; error?: string }>;

/**
 * Enqueues every job's tasks in one engine call; when the engine refuses the batch, each
 * job alone, so one bad spec fails only its own fires.
 */
async function enqueueAll(rt: TasksRuntime, jobs: Array<{ job: FireJob; base: NewTask }>, made: Made) {
  const run = async (group: typeof jobs) => {
    const batch: NewTask[] = [];
    const where = group.map(({ job, base }) => ({ job, at: addTasks(job, base, batch) }));
    if (batch.length === 0) return;
    const { tasks } = await rt.enqueue(batch);
    for (const { job, at } of where) {
      made.set(job, { tasks: new Map([...at].map(([plan, i]) => [plan, tasks[i]])) });
    }
  };
  try {
    await run(jobs);
  } catch (error) {
    if (!refused(error)) throw error;
    if (jobs.length === 1) {
      made.set(jobs[0].job, { tasks: new Map(), error: (error as ConnectError).rawMessage });
    } else for (const one of jobs) await enqueueAll(rt, [one], made);
  }
}

/** Fires the jobs; returns the fires and the schedules' advances, for recordFires. */
export async function fireJobs(
  rt: TasksRuntime,
  defaults: TypeDefaultsCache,
  jobs: FireJob[],
): Promise<{ fires: FireInsert[]; advances: Advance[] }> {
  const now = rt.clock.now();
  const known = await defaults.forTypes(
    jobs.map((j) => fromBinary(TaskSpecSchema, j.schedule.taskSpec).type),
  );
  const made: Made = new Map();
  const ready: Array<{ job: FireJob; base: NewTask }> = [];
  for (const job of jobs) {
    try {
      const base = toNewTask(fromBinary(TaskSpecSchema, job.schedule.taskSpec), now, "schedule.task", known);
      ready.push({ job, base });
    } catch (e) {
      if (!refused(e)) throw e;
      made.set(job, { tasks: new Map(), error: (e as ConnectError).rawMessage });
    }
  }
  await cancelPrevious(rt, ready.map((r) => r.job));
  if (ready.length) await enqueueAll(rt, ready, made);
  const fires: FireInsert[] = [];
  const advances: Advance[] = [];
  for (const job of jobs) {
    const result = made.get(job) ?? { tasks: new Map<number, TaskRecord>() };
    let lastTaskId: string | null = null;
    job.plans.forEach((plan, i) => {
      const task = result.tasks.get(i);
      if (task) lastTaskId = task.id;
      fires.push({
        scheduleId: job.schedule.id,
        tickAt: plan.tickAt,
        manual: job.manual,
        firedAt: now,
        taskId: task?.id ?? null,
        outcome: plan.action === "skip"
          ? "skipped"
          : !task
          ? "failed"
          : plan.action === "buffer"
          ? "buffered"
          : "enqueued",
        message: plan.action === "skip" ? plan.message : task ? "" : result.error ?? "",
      });
    });
    advances.push({
      id: job.schedule.id,
      lastFireAt: job.plans.length ? Math.max(...job.plans.map((p) => p.tickAt)) : null,
      lastTaskId,
      claimedUntil: job.claimedUntil,
    });
  }
  return { fires, advances };
}

/** Records fires and ends the claims they were made under, in one short transaction. */
export async function recordFires(
  sql: Sql,
  result: { fires: FireInsert[]; advances: Advance[] },
  now: number,
): Promise<void> {
  await sql.begin(async (tx) => {
    await insertFires(tx, result.fires);
    await finishClaims(tx, result.advances, now);
  });
}
