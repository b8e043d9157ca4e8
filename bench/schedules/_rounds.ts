/**
 * The two systems' rounds of `deno task bench:schedules`: N instance processes, S
 * schedules every second for a window of W seconds, then what was fired within it.
 */
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { OverlapPolicy } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { systemClock } from "../../server/clock.ts";
import { createTestDatabase } from "../../server/db/testing.ts";
import { loadConfig } from "../../server/load_config.ts";
import { createMemoryLogger } from "../../server/log.ts";
import { connectRedis } from "../../server/redis/connection.ts";
import { Schedules } from "../../server/schedules/schedules.ts";
import { createTasksRuntime } from "../../server/tasks/setup.ts";
import { dropRedisKeys } from "../../tests/_support/server.ts";
import { type Child, spawnChild, stopChild } from "../queue/_child.ts";
import { cpuSeconds, type Fired, type RoundFigures, summarise } from "./_measure.ts";

const HERE = new URL("./", import.meta.url).pathname;
const SETTLE_MS = 3000;

export interface RoundOptions {
  instances: number;
  schedules: number;
  seconds: number;
  redisUrl: string;
}

/** Spawns `n` instance processes of `script` into `children` and waits until each says it is ready. */
async function startInstances(
  children: Child[],
  n: number,
  what: string,
  script: string,
  flags: string[],
  onLine?: (line: string) => void,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    const child = spawnChild(`${what} instance ${i}`, [
      Deno.execPath(),
      "run",
      "-A",
      `${HERE}${script}`,
      ...flags,
    ], {});
    if (onLine) child.onLine(onLine);
    children.push(child);
    await ready(child);
  }
}

async function ready(child: Child): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const off = child.onLine((line) => {
      if (line.includes('"ready"')) (off(), resolve());
    });
    child.exited.then((code) => reject(new Error(`${child.name} exited with ${code}:\n${child.tail()}`)));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for the window, measuring the instances' CPU over it. */
async function windowCpu(children: Child[], from: number, to: number): Promise<number> {
  await sleep(Math.max(0, from - Date.now()));
  const before = await Promise.all(children.map((c) => cpuSeconds(c.pid)));
  const started = Date.now();
  await sleep(Math.max(0, to - Date.now()));
  const after = await Promise.all(children.map((c) => cpuSeconds(c.pid)));
  const wall = (Date.now() - started) / 1000;
  return after.reduce((sum, a, i) => sum + a - before[i], 0) / wall;
}

/** Measures CPU over the window [from, to), lets the last fires land, then sums up what `fired` reads. */
async function measureRound(
  system: string,
  o: RoundOptions,
  children: Child[],
  window: { from: number; to: number },
  fired: () => Promise<Fired[]>,
): Promise<RoundFigures> {
  const cpuCores = await windowCpu(children, window.from, window.to);
  await sleep(SETTLE_MS);
  const figures = summarise(await fired(), window, o.schedules, o.seconds);
  return {
    system,
    instances: o.instances,
    schedules: o.schedules,
    seconds: o.seconds,
    firesPerSecond: figures.fires / o.seconds,
    cpuCores,
    ...figures,
  };
}

export async function taskmeshRound(o: RoundOptions): Promise<RoundFigures> {
  const db = await createTestDatabase();
  const prefix = `bench-sched:${crypto.randomUUID().slice(0, 8)}:`;
  const log = createMemoryLogger("error");
  const client = connectRedis(o.redisUrl, { log, keyPrefix: prefix });
  const config = loadConfig({ TASKMESH_HOST: "127.0.0.1", TASKMESH_PORT: "0" });
  // The bench's own handle on the engine and schedules, to create them; its loops never start.
  const rt = createTasksRuntime({
    sql: db.sql,
    redis: { kind: "redis", url: o.redisUrl, client },
    clock: systemClock,
    log,
    config,
  });
  const schedules = new Schedules(db.sql, rt, log, config.tasks.tickMs);
  const children: Child[] = [];
  try {
    await startInstances(children, o.instances, "taskmesh", "taskmesh_instance.ts", [
      `--db-url=${db.url}`,
      `--redis-url=${o.redisUrl}`,
      `--prefix=${prefix}`,
    ]);
    // Ticks on whole seconds, from after every schedule exists.
    const from = Math.ceil((Date.now() + 2000 + o.schedules * 10) / 1000) * 1000;
    const to = from + o.seconds * 1000;
    for (let i = 0; i < o.schedules; i++) {
      await schedules.create({
        name: `bench-${i}`,
        interval: durationFromMs(1000),
        startTime: timestampFromMs(from),
        endTime: timestampFromMs(to - 1000),
        overlap: OverlapPolicy.ALLOW,
        task: { queue: "bench", type: "tick" },
      });
    }
    if (Date.now() > from) {
      throw new Error("creating the schedules took past their first tick: fewer schedules");
    }
    return await measureRound("taskmesh", o, children, { from, to }, async () => {
      const rows = await db.sql<{ schedule_id: string; tick: string; created_at: Date }[]>`
        select schedule_id, labels->>'schedule_tick' as tick, created_at from tasks where queue = 'bench'`;
      return rows.map((r) => ({
        schedule: r.schedule_id,
        tick: Date.parse(r.tick),
        at: r.created_at.getTime(),
      }));
    });
  } finally {
    await Promise.all(children.map((c) => stopChild(c)));
    // Never started: stopping closes its broker and registry connections.
    await rt.stop();
    client.disconnect();
    await dropRedisKeys(prefix, o.redisUrl);
    await db.drop();
  }
}

export async function bullmqRound(o: RoundOptions): Promise<RoundFigures> {
  const prefix = `bench-bull-${crypto.randomUUID().slice(0, 8)}`;
  const name = "schedules";
  const connection = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection, prefix });
  const children: Child[] = [];
  const fired: Fired[] = [];
  try {
    await startInstances(children, o.instances, "bullmq", "bullmq_instance.ts", [
      `--redis-url=${o.redisUrl}`,
      `--queue=${name}`,
      `--prefix=${prefix}`,
    ], (line) => {
      if (!line.startsWith('{"s"')) return;
      const r = JSON.parse(line) as { s: string; t: number; p: number };
      fired.push({ schedule: r.s, tick: r.t, at: r.p });
    });
    const from = Math.ceil((Date.now() + 2000 + o.schedules * 10) / 1000) * 1000;
    const to = from + o.seconds * 1000;
    for (let i = 0; i < o.schedules; i++) {
      await queue.upsertJobScheduler(`bench-${i}`, { every: 1000, startDate: from, endDate: to - 1 }, {
        name: "tick",
        data: {},
      });
    }
    if (Date.now() > from) {
      throw new Error("creating the schedulers took past their first tick: fewer schedules");
    }
    return await measureRound("BullMQ", o, children, { from, to }, () => Promise.resolve(fired));
  } finally {
    await Promise.all(children.map((c) => stopChild(c)));
    await queue.close();
    connection.disconnect();
    await dropRedisKeys(prefix, o.redisUrl);
  }
}
