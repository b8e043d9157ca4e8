/**
 * The measurements, each the same steps for either system. Every phase starts from a
 * clean slate (QueueSystem.reset) and leaves no worker running.
 */
import { type Child, StartLog, stopChild } from "./_child.ts";
import { type CpuSnapshot, cpuSnapshot, cpuSpent, type Role, ROLES } from "./_cpu.ts";
import { percentile, type QueueSystem, round, sleep } from "./_system.ts";

export interface ProcessResult {
  tasksPerSecond: number;
  /** Tasks that ran: all that were enqueued, or those done when the time limit came. */
  tasks: number;
  /** From the first task's start to the last one's finish, as the system recorded them. */
  seconds: number;
  /**
   * CPU spent per task while the worker ran them, µs: the whole machine's, and by role
   * (_cpu.ts: the system's server and worker, Postgres, Redis, the rest).
   */
  cpuUsPerTask: { machine: number } & Record<Role, number>;
  /** Share of the machine's CPU time that was busy over the same span. */
  machineBusy: number;
}

export interface EnqueueResult {
  tasksPerSecond: number;
  tasks: number;
  seconds: number;
}

/**
 * Enqueues up to `n` noop tasks (timed), then has one worker process run them at
 * `concurrency`. Each of the two stops early at `limitMs` (no new call, the worker
 * drained): the rate is then over what was done by that time.
 */
export async function enqueueAndProcess(
  sys: QueueSystem,
  how: { kind: "single"; concurrency: number } | { kind: "batched"; batch: number },
  n: number,
  workerConcurrency: number,
  limitMs: number,
): Promise<{ enqueue: EnqueueResult; processed: ProcessResult }> {
  await sys.reset();
  const queue = `bench-${how.kind}-c${workerConcurrency}`;
  const stopEnqueue = performance.now() + limitMs;
  const timed = how.kind === "single"
    ? await sys.enqueueSingle(queue, n, how.concurrency, stopEnqueue)
    : await sys.enqueueBatched(queue, n, how.batch, stopEnqueue);
  const enqueue = {
    tasks: timed.count,
    seconds: round(timed.ms / 1000, 3),
    tasksPerSecond: round(timed.count / (timed.ms / 1000), 1),
  };
  const worker = await sys.startWorker({
    queue,
    concurrency: workerConcurrency,
    id: `${sys.name}-c${workerConcurrency}`,
    logStarts: false,
  });
  // From the worker's connection (polled every 100 ms: at the highest rates a few hundred tasks
  // run before it, so the CPU per task reads a few per cent low) to the last task seen done.
  let cpu0: CpuSnapshot | undefined;
  let cpu1: CpuSnapshot | undefined;
  try {
    cpu0 = await cpuSnapshot();
    await sys.waitSucceeded(queue, timed.count, performance.now() + limitMs);
    cpu1 = await cpuSnapshot();
  } catch (error) {
    throw new Error(`${(error as Error).message}; the worker's output ends:\n${worker.tail()}`);
  } finally {
    // Both workers drain on SIGTERM: what they hold finishes and is counted.
    await stopChild(worker, 30_000);
  }
  const cpu = cpuSpent(cpu0!, cpu1!, { server: sys.serverPid, worker: worker.pid });
  const w = await sys.window(queue);
  const seconds = (w.lastFinishMs - w.firstStartMs) / 1000;
  return {
    enqueue,
    processed: {
      tasks: w.count,
      seconds: round(seconds, 3),
      tasksPerSecond: round(w.count / seconds, 1),
      cpuUsPerTask: perTask(cpu.machineBusyMs, cpu.ms, w.count),
      machineBusy: round(cpu.machineBusy, 2),
    },
  };
}

function perTask(machineMs: number, ms: Record<Role, number>, tasks: number): ProcessResult["cpuUsPerTask"] {
  const us = (v: number) => tasks > 0 ? round((v * 1000) / tasks, 0) : 0;
  const out = { machine: us(machineMs) } as ProcessResult["cpuUsPerTask"];
  for (const role of ROLES) out[role] = us(ms[role]);
  return out;
}

export interface Distribution {
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

function distribution(values: number[]): Distribution {
  return {
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    mean: round(values.reduce((a, b) => a + b, 0) / values.length),
    max: Math.max(...values),
  };
}

export interface LatencyResult {
  samples: number;
  /** Enqueue call issued (client) → handler began (the worker's own line). */
  handlerStart: Distribution;
  /** Enqueue call issued (client) → the system recorded the attempt as started; null when it keeps no record. */
  recordedStart: Distribution | null;
  /** Enqueue call issued → its answer (the client's own clock). */
  enqueueCall: Distribution;
}

/**
 * One task at a time on an idle system: enqueue, wait until its handler has started,
 * pause `gapMs`, next. The first `warmup` are not counted.
 */
export async function enqueueToStart(
  sys: QueueSystem,
  samples: number,
  warmup: number,
  gapMs: number,
  workerConcurrency: number,
): Promise<LatencyResult> {
  await sys.reset();
  const queue = "bench-latency";
  const worker = await sys.startWorker({
    queue,
    concurrency: workerConcurrency,
    id: `${sys.name}-latency`,
    logStarts: true,
  });
  const log = new StartLog(worker);
  const sent = new Map<string, number>();
  const calls: number[] = [];
  try {
    for (let i = 0; i < warmup + samples; i++) {
      const t0 = Date.now();
      const c0 = performance.now();
      const id = await sys.enqueueOne(queue, "noop", {});
      if (i >= warmup) calls.push(round(performance.now() - c0, 3));
      await log.until(() => log.starts.has(id), 10_000, `task ${id} to start`);
      if (i >= warmup) sent.set(id, t0);
      await sleep(gapMs);
    }
  } catch (error) {
    throw new Error(`${(error as Error).message}; the worker's output ends:\n${worker.tail()}`);
  } finally {
    log.close();
    await stopChild(worker);
  }
  const ids = [...sent.keys()];
  const recorded = await sys.recordedStarts(queue, ids);
  return {
    samples,
    handlerStart: distribution(ids.map((id) => log.starts.get(id)![0] - sent.get(id)!)),
    recordedStart: recorded ? distribution(ids.map((id) => recorded.get(id)! - sent.get(id)!)) : null,
    enqueueCall: distribution(calls),
  };
}

export interface RequeueResult {
  tasks: number;
  signal: "SIGKILL" | "SIGSTOP";
  /** Signal sent → the second worker's handler began, over the tasks; null when it did not within the limit. */
  handlerStart: Distribution | null;
  /** Signal sent → the system recorded the second attempt as started. */
  recordedStart: Distribution | null;
  /** Tasks that were not running again when the limit ran out. */
  stranded: number;
  limitMs: number;
}

/**
 * Worker A runs `tasks` sleep tasks; worker B, on the same queue, is connected and idle;
 * A gets `signal`; measured: the signal → each task's handler starting again on B.
 */
export async function deadWorkerRequeue(
  sys: QueueSystem,
  tasks: number,
  signal: "SIGKILL" | "SIGSTOP",
  limitMs: number,
): Promise<RequeueResult> {
  await sys.reset();
  const queue = `bench-requeue-${signal.toLowerCase()}`;
  const spec = { queue, concurrency: tasks, logStarts: true };
  const a = await sys.startWorker({ ...spec, id: `${sys.name}-${signal.toLowerCase()}-a` });
  const logA = new StartLog(a);
  let b: Child | undefined;
  let logB: StartLog | undefined;
  try {
    const ids: string[] = [];
    // Long enough to outlast any requeue measured here; the tasks are thrown away afterwards.
    for (let i = 0; i < tasks; i++) ids.push(await sys.enqueueOne(queue, "sleep", { ms: 240_000 }));
    await logA.until(() => ids.every((id) => logA.starts.has(id)), 15_000, `${tasks} tasks to start on A`);
    b = await sys.startWorker({ ...spec, id: `${sys.name}-${signal.toLowerCase()}-b` });
    const started = new StartLog(b);
    logB = started;
    const sentAt = Date.now();
    a.kill(signal);
    let stranded = 0;
    try {
      await started.until(
        () => ids.every((id) => started.starts.has(id)),
        limitMs,
        "tasks to run again on B",
      );
    } catch {
      stranded = ids.filter((id) => !started.starts.has(id)).length;
    }
    const again = ids.filter((id) => started.starts.has(id));
    const recorded = await sys.recordedStarts(queue, again);
    const spread = (values: number[]) => stranded > 0 || values.length === 0 ? null : distribution(values);
    return {
      tasks,
      signal,
      handlerStart: spread(again.map((id) => started.starts.get(id)![0] - sentAt)),
      recordedStart: recorded ? spread(again.map((id) => recorded.get(id)! - sentAt)) : null,
      stranded,
      limitMs,
    };
  } finally {
    logA.close();
    logB?.close();
    // The tasks sleep for minutes: nobody waits for them.
    for (const child of [a, b]) {
      if (!child) continue;
      child.kill("SIGKILL");
      await child.exited;
    }
  }
}
