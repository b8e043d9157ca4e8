/**
 * `deno task start` on embedded defaults runs the server and a worker; `deno task demo`
 * against it shows work flowing: the tasks succeed, the failing ones end dead, and
 * shutting down (SIGTERM, or a terminal's Ctrl-C to the whole process group) drains the
 * worker before the server stops, so the task it was running still succeeds.
 */
import assert from "node:assert/strict";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type Task, TaskService, TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { type LocalClient, localClientPath } from "../server/demo.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const START = new URL("../server/start.ts", import.meta.url).pathname;
const DEMO = new URL("../server/demo.ts", import.meta.url).pathname;

interface Started {
  child: Deno.ChildProcess;
  url: string;
  lines: Record<string, unknown>[];
  exited: Promise<{ code: number; stderr: string }>;
}

/**
 * Spawns start.ts (or `deno task start`, which forwards signals to it) in its own process
 * group, so a group signal is a terminal's Ctrl-C, and waits for its worker.
 */
async function start(dataDir: string, via: "run" | "task" = "run"): Promise<Started> {
  const child = new Deno.Command(Deno.execPath(), {
    args: via === "run" ? ["run", "-A", START] : ["task", "start"],
    cwd: ROOT,
    env: { TASKMESH_HOST: "127.0.0.1", TASKMESH_PORT: "0", TASKMESH_DATA_DIR: dataDir },
    clearEnv: true,
    detached: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<{ match: (l: Record<string, unknown>) => boolean; resolve: () => void }> = [];
  const stdoutDone = (async () => {
    let buffered = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      for (let nl; (nl = buffered.indexOf("\n")) >= 0; buffered = buffered.slice(nl + 1)) {
        try {
          lines.push(JSON.parse(buffered.slice(0, nl)));
        } catch {
          continue;
        }
        for (const w of waiters.splice(0)) w.match(lines.at(-1)!) ? w.resolve() : waiters.push(w);
      }
    }
  })();
  const stderr = new Response(child.stderr).text();
  const exited = (async () => {
    const { code } = await child.status;
    await stdoutDone;
    return { code, stderr: await stderr };
  })();
  const waitFor = (match: (l: Record<string, unknown>) => boolean) =>
    lines.some(match) ? Promise.resolve() : Promise.race([
      new Promise<void>((resolve) => waiters.push({ match, resolve })),
      exited.then(({ code, stderr }) => {
        throw new Error(`start.ts exited with ${code} before it was ready:\n${stderr}`);
      }),
    ]);
  const started = { child, url: "", lines, exited };
  try {
    await waitFor((l) => l.msg === "listening");
    started.url = String(lines.find((l) => l.msg === "listening")!.url);
    // The server's side of the worker's Hello: from here ListWorkers shows it and it takes work.
    await waitFor((l) => l.msg === "worker connected");
  } catch (error) {
    await stop(started, "SIGKILL");
    throw error;
  }
  return started;
}

/** Signals the whole process group unless it is already gone, and waits for start.ts. */
async function stop(started: Started, signal: Deno.Signal, group = false) {
  try {
    Deno.kill(group ? -started.child.pid : started.child.pid, signal);
  } catch { /* already gone */ }
  return await started.exited;
}

async function localClient(dataDir: string): Promise<LocalClient> {
  return JSON.parse(await Deno.readTextFile(localClientPath(dataDir)));
}

function tasksClient(local: LocalClient): Client<typeof TaskService> {
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${local.apiKey}`);
    return next(req);
  };
  return createClient(TaskService, createGrpcTransport({ baseUrl: local.url, interceptors: [auth] }));
}

/** Enqueues a 1.5 s sleep and resolves once the worker runs it (seen on WatchTasks, or by GetTask). */
async function enqueueRunning(tasks: Client<typeof TaskService>): Promise<Task> {
  const abort = new AbortController();
  const events = tasks.watchTasks({ queue: "default", state: TaskState.RUNNING }, { signal: abort.signal });
  const it = events[Symbol.asyncIterator]();
  const first = it.next(); // opens the stream before the task exists
  try {
    const { task } = await tasks.enqueue({
      task: { type: "sleep", payload: new TextEncoder().encode('{"ms":1500}') },
    });
    if ((await tasks.getTask({ id: task!.id })).task!.state === TaskState.RUNNING) return task!;
    for (let next = await first; !next.done; next = await it.next()) {
      if (next.value.task?.id === task!.id) return task!;
    }
    throw new Error("WatchTasks ended before the task ran");
  } finally {
    abort.abort();
    await first.catch(() => {});
  }
}

Deno.test("deno task start runs a worker, and deno task demo shows work flowing through it", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "taskmesh-demo-" });
  let started = await start(dataDir);
  try {
    let drainedTask: Task | undefined;

    await t.step("the local client key is private, scoped and names the server", async () => {
      const stat = await Deno.stat(localClientPath(dataDir));
      assert.equal(stat.mode! & 0o777, 0o600);
      const local = await localClient(dataDir);
      assert.equal(local.url, started.url);
      assert.deepEqual(local.scopes, ["tasks:enqueue", "tasks:read", "tasks:manage"]);
    });

    await t.step("the demo enqueues its mix, follows it to the end and exits 0", async () => {
      const demo = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", DEMO, `--url=${started.url}`, "--follow=30s"],
        env: { TASKMESH_DATA_DIR: dataDir },
        clearEnv: true,
        stdin: "null",
      }).output();
      const stdout = new TextDecoder().decode(demo.stdout);
      const stderr = new TextDecoder().decode(demo.stderr);
      assert.equal(demo.code, 0, `${stdout}\n${stderr}`);
      assert.match(stdout, /all 19 demo tasks ended after [\d.]+s: 17 succeeded, 2 dead\./);
      assert.match(stdout, /once \(again\)\s+noop\s+0\s+\S+\s+duplicate/);
      assert.match(stdout, /slow\s+progress\s+0% sleeping 3000 ms/);
      const runId = /^taskmesh demo (\w+)/m.exec(stdout)![1];
      // Its interval schedule fired its five ticks, each a task the worker ran, and is gone.
      assert.match(stdout, new RegExp(`schedule demo-${runId} \\(every 1s, 5 ticks\\): 5 fires`));
      assert.equal(stdout.match(/ tick \S+\s+enqueued\s+task \w+ succeeded/g)?.length, 5, stdout);

      // What the demo printed is what the server holds.
      const tasks = tasksClient(await localClient(dataDir));
      const listed = (await tasks.listTasks({ labels: { demo: runId }, pageSize: 100 })).tasks;
      const byStep = new Map(listed.map((task) => [task.spec!.labels.step, task]));
      assert.equal(listed.length, 19, "the duplicate enqueue made no new task");
      const dead = listed.filter((task) => task.state === TaskState.DEAD).map((task) =>
        task.spec!.labels.step
      );
      assert.deepEqual(dead.toSorted(), ["bad-payload", "timeout-retry"]);
      assert.equal(listed.filter((task) => task.state === TaskState.SUCCEEDED).length, 17);
      const fired = (await tasks.listTasks({ labels: { demo_schedule: runId }, pageSize: 100 })).tasks;
      assert.equal(fired.length, 5, "one task per tick");
      assert.equal((await tasks.listSchedules({})).schedules.length, 0, "the demo deletes its schedule");

      const bad = byStep.get("bad-payload")!;
      assert.equal(bad.lastError?.code, "bad_payload");
      assert.equal(bad.attemptCount, 1, "a permanent error skips the remaining attempts");
      const retried = (await tasks.getTask({ id: byStep.get("timeout-retry")!.id })).task!;
      assert.equal(retried.lastError?.code, "timeout");
      assert.equal(retried.attempts.length, 2, "a retryable error is retried until attempts run out");

      // Priority 9 was enqueued after priority 0 in the same batch, yet no 0 started before every 9 had.
      const startOf = async (step: string) =>
        timestampMs((await tasks.getTask({ id: byStep.get(step)!.id })).task!.attempts[0].startTime!);
      const p9 = await Promise.all([1, 2, 3, 4, 5].map((i) => startOf(`batch-p9-${i}`)));
      const p0 = await Promise.all([1, 2, 3, 4, 5].map((i) => startOf(`batch-p0-${i}`)));
      assert.ok(Math.max(...p9) <= Math.min(...p0), `p9 started ${p9}, p0 started ${p0}`);
    });

    await t.step("SIGTERM drains the worker, then start.ts exits 0", async () => {
      drainedTask = await enqueueRunning(tasksClient(await localClient(dataDir)));
      const { code, stderr } = await stop(started, "SIGTERM");
      assert.equal(code, 0, stderr);
      assert.ok(started.lines.some((l) => l.msg === "drained: closing the stream"));
      assert.ok(!started.lines.some((l) => String(l.msg).startsWith("stopping at once")));
      await assert.rejects(Deno.stat(localClientPath(dataDir)), Deno.errors.NotFound);
    });

    await t.step("the task running at shutdown finished and was recorded", async () => {
      started = await start(dataDir, "task");
      const found = (await tasksClient(await localClient(dataDir)).getTask({ id: drainedTask!.id })).task!;
      assert.equal(found.state, TaskState.SUCCEEDED);
      assert.equal(found.attempts.length, 1);
    });

    await t.step("Ctrl-C on deno task start drains the worker once, not twice", async () => {
      // The terminal signals the whole group, and deno task forwards the signal to start.ts too.
      const task = await enqueueRunning(tasksClient(await localClient(dataDir)));
      const { code, stderr } = await stop(started, "SIGINT", true);
      assert.equal(code, 0, stderr);
      assert.ok(!started.lines.some((l) => String(l.msg).startsWith("stopping at once")));
      assert.ok(started.lines.some((l) => l.msg === "task succeeded" && l.task_id === task.id));
      assert.ok(!started.lines.some((l) => String(l.msg).startsWith("result refused")));
      assert.ok(started.lines.some((l) => l.msg === "stopped"), "the server stopped cleanly");
      await assert.rejects(Deno.stat(localClientPath(dataDir)), Deno.errors.NotFound);

      started = await start(dataDir);
      const found = (await tasksClient(await localClient(dataDir)).getTask({ id: task.id })).task!;
      assert.equal(found.state, TaskState.SUCCEEDED);
      assert.equal(found.attempts.length, 1);
    });

    await t.step("Ctrl-C with nothing running stops just as cleanly", async () => {
      const { code, stderr } = await stop(started, "SIGINT", true);
      assert.equal(code, 0, stderr);
      assert.ok(!started.lines.some((l) => String(l.msg).startsWith("stopping at once")));
      assert.ok(started.lines.some((l) => l.msg === "stopped"), "the server stopped cleanly");
    });
  } finally {
    await stop(started, "SIGKILL", true);
    await Deno.remove(dataDir, { recursive: true });
  }
});
