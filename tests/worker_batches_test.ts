/**
 * Batched messages on WorkerService.Connect (worker.proto, Hello.batches), over a real
 * server on Postgres and Redis: a worker that does not ask gets exactly one Assign and one
 * ResultAck a message, one that asks gets them packed; a ResultBatch is fenced result by
 * result and bounded; and the SDK works both ways end to end.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { TaskService, TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import type { Assign, ConnectResponse, ResultAck } from "../gen/taskmesh/tasks/v1/worker_pb.ts";
import { createMemoryLogger, createWorker } from "../worker/mod.ts";
import { bearer, credentials, openRawWorker, type RawWorker } from "./_support/raw_worker.ts";
import { startTestServer } from "./_support/server.ts";

const ok = new Uint8Array();

/** Re-asks after each server round trip, up to a bound; no timers. */
async function until<T>(what: string, check: () => Promise<T | undefined>, tries = 2000): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
  }
  throw new Error(`${what}: never happened`);
}

function caseOf(response: ConnectResponse): string | undefined {
  return response.message.case;
}

/** The acks and assigns a message carries, alone or in a ResponseBatch. */
function itemsOf(response: ConnectResponse): { acks: ResultAck[]; assigns: Assign[] } {
  const m = response.message;
  if (m.case === "batch") return { acks: m.value.resultAcks, assigns: m.value.assigns };
  if (m.case === "resultAck") return { acks: [m.value], assigns: [] };
  if (m.case === "assign") return { acks: [], assigns: [m.value] };
  return { acks: [], assigns: [] };
}

/** Reads messages until `n` acks came, and returns them; no Assign may come meanwhile. */
async function acksUntil(w: RawWorker, n: number): Promise<ResultAck[]> {
  const acks: ResultAck[] = [];
  while (acks.length < n) {
    const { acks: more, assigns } = itemsOf(await w.next());
    assert.deepEqual(assigns, []);
    acks.push(...more);
  }
  assert.equal(acks.length, n);
  return acks;
}

Deno.test("batched messages on the worker stream", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const server = await startTestServer({ redis: true, env: { TASKMESH_WORKER_HEARTBEAT_MS: "10000" } });
  const workers: RawWorker[] = [];
  try {
    const { admin, workerKey } = await credentials(server);
    const as = bearer(admin);
    const tasks = createClient(TaskService, server.grpc());
    const enqueue = async (queue: string, n: number) =>
      (await tasks.enqueueBatch({ tasks: Array.from({ length: n }, () => ({ queue, type: "noop" })) }, as))
        .tasks.map((task) => task.id);
    const open = async (queue: string, concurrency: number, batches: boolean) => {
      const w = openRawWorker(server.grpc(), workerKey);
      workers.push(w);
      w.send({
        case: "hello",
        value: { workerId: crypto.randomUUID(), queues: [queue], concurrency, batches },
      });
      const welcome = await w.nextOf("welcome");
      return { w, welcome };
    };
    const succeeded = (ids: string[]) =>
      until("every task succeeded", async () => {
        for (const id of ids) {
          if ((await tasks.getTask({ id }, as)).task?.state !== TaskState.SUCCEEDED) return undefined;
        }
        return true;
      });

    await t.step(
      "a worker that does not ask gets one Assign and one ResultAck a message, even for a ResultBatch",
      async () => {
        const ids = await enqueue("batch-off", 4);
        const { w, welcome } = await open("batch-off", 4, false);
        assert.equal(welcome.batches, false);
        const assigns = [];
        for (let i = 0; i < 4; i++) {
          const m = await w.next();
          assert.equal(caseOf(m), "assign");
          if (m.message.case === "assign") assigns.push(m.message.value);
        }
        assert.deepEqual(assigns.map((a) => a.task!.id).sort(), [...ids].sort());
        const results = assigns.map((a) => ({
          taskId: a.task!.id,
          leaseId: a.leaseId,
          outcome: { case: "output" as const, value: ok },
        }));
        w.send({ case: "result", value: results[0] });
        w.send({ case: "result", value: results[1] });
        // The server takes a ResultBatch from any worker; its answers still go one by one.
        w.send({ case: "results", value: { results: results.slice(2) } });
        const acked = [];
        for (let i = 0; i < 4; i++) {
          const m = await w.next();
          assert.equal(caseOf(m), "resultAck");
          if (m.message.case === "resultAck") {
            assert.equal(m.message.value.accepted, true);
            acked.push(m.message.value.taskId);
          }
        }
        assert.deepEqual(acked.sort(), [...ids].sort());
        await succeeded(ids);
      },
    );

    await t.step(
      "a worker that asks gets a claim's Assigns in one message, and a ResultBatch is fenced result by result",
      async () => {
        const ids = await enqueue("batch-on", 5);
        const { w, welcome } = await open("batch-on", 5, true);
        assert.equal(welcome.batches, true);
        // Ready before the Hello: the session's first claim takes all five, and one message carries them.
        const first = await w.next();
        assert.equal(first.message.case, "batch");
        const assigns = first.message.case === "batch" ? first.message.value.assigns : [];
        assert.deepEqual(assigns.map((a) => a.task!.id).sort(), [...ids].sort());
        const [stale, ...rest] = assigns;
        w.send({
          case: "results",
          value: {
            results: [
              // Fenced as a Result alone would be: the lease id is not the one this task runs under.
              { taskId: stale.task!.id, leaseId: "not-its-lease", outcome: { case: "output", value: ok } },
              ...rest.map((a) => ({
                taskId: a.task!.id,
                leaseId: a.leaseId,
                outcome: { case: "output" as const, value: ok },
              })),
            ],
          },
        });
        const acks = await acksUntil(w, 5);
        assert.deepEqual(acks.map((a) => a.taskId).sort(), [...ids].sort());
        const refused = acks.find((a) => a.taskId === stale.task!.id)!;
        assert.equal(refused.accepted, false);
        assert.match(refused.reason, /lease expired or unknown/);
        assert.ok(acks.every((a) => a.accepted === (a !== refused)));
        // The fenced task still runs under its own lease.
        w.send({
          case: "result",
          value: { taskId: stale.task!.id, leaseId: stale.leaseId, outcome: { case: "output", value: ok } },
        });
        assert.equal((await acksUntil(w, 1))[0].accepted, true);
        await succeeded(ids);
      },
    );

    await t.step(
      "at concurrency 1, an ack rides with the next Assign: fewer messages than two a task",
      async () => {
        const ids = await enqueue("batch-one", 6);
        const { w } = await open("batch-one", 1, true);
        const acked: string[] = [];
        let messages = 0;
        let batched = 0;
        while (acked.length < ids.length) {
          const m = await w.next();
          messages++;
          const { assigns, acks } = itemsOf(m);
          if (m.message.case === "batch") {
            batched++;
            assert.ok(assigns.length <= 1 && acks.length <= 1, "never more than the credits allow");
          }
          for (const a of acks) {
            assert.equal(a.accepted, true);
            acked.push(a.taskId);
          }
          for (const a of assigns) {
            w.send({
              case: "result",
              value: { taskId: a.task!.id, leaseId: a.leaseId, outcome: { case: "output", value: ok } },
            });
          }
        }
        assert.deepEqual(acked, ids, "acks in the order the results were recorded");
        assert.ok(batched >= 1, "at least one ack went with an Assign");
        assert.ok(messages < 2 * ids.length, `${messages} messages for ${ids.length} tasks`);
        await succeeded(ids);
      },
    );

    await t.step(
      "an ack held back goes out with the next heartbeat's handling, and before a drain ends the stream",
      async () => {
        const ids = await enqueue("batch-held", 2);
        const { w } = await open("batch-held", 1, true);
        const first = itemsOf(await w.next()).assigns[0];
        w.send({
          case: "result",
          value: { taskId: first.task!.id, leaseId: first.leaseId, outcome: { case: "output", value: ok } },
        });
        const second = await w.next();
        const { assigns: [running], acks: early } = itemsOf(second);
        assert.equal(running.task!.id, ids[1]);
        if (early.length === 0) {
          // The first result committed after the second Assign went: its ack waits while the only slot is busy.
          await succeeded([ids[0]]);
          w.send({
            case: "heartbeat",
            value: { leases: [{ taskId: running.task!.id, leaseId: running.leaseId }], load: 1 },
          });
          assert.deepEqual((await acksUntil(w, 1)).map((a) => [a.taskId, a.accepted]), [[ids[0], true]]);
        } else assert.deepEqual(early.map((a) => a.taskId), [ids[0]]);
        // The worker drains: its last result's ack comes before the stream ends.
        w.send({ case: "drain", value: {} });
        w.send({
          case: "result",
          value: {
            taskId: running.task!.id,
            leaseId: running.leaseId,
            outcome: { case: "output", value: ok },
          },
        });
        assert.deepEqual((await acksUntil(w, 1)).map((a) => [a.taskId, a.accepted]), [[ids[1], true]]);
        assert.equal(await w.ended, undefined, "the drained stream ends with OK");
      },
    );

    await t.step(
      "a ResultBatch of none, or of more than the concurrency, ends the stream: INVALID_ARGUMENT",
      async () => {
        for (const count of [0, 3]) {
          const { w } = await open("batch-bounds", 2, true);
          w.send({
            case: "results",
            value: {
              results: Array.from({ length: count }, (_, i) => ({
                taskId: `t${i}`,
                leaseId: `l${i}`,
                outcome: { case: "output" as const, value: ok },
              })),
            },
          });
          const error = await w.ended;
          assert.ok(error instanceof ConnectError, `a batch of ${count} ends the stream with an error`);
          assert.equal(error.code, Code.InvalidArgument);
          assert.match(error.rawMessage, /results\.results holds \d results: send 1 to 2/);
        }
      },
    );

    for (const batches of [true, false]) {
      await t.step(`the SDK runs every task, batches ${batches ? "on" : "off"}`, async () => {
        const queue = `batch-sdk-${batches}`;
        const ids = await enqueue(queue, 60);
        const log = createMemoryLogger("info");
        let ran = 0;
        const worker = createWorker({
          url: server.url,
          apiKey: workerKey,
          queues: [queue],
          concurrency: 10,
          handlers: { noop: () => void ran++ },
          log,
          batches,
        });
        const running = worker.start();
        try {
          await succeeded(ids);
          assert.equal(ran, 60);
          const refused = log.lines.filter((l) => l.msg === "result refused: the lease was lost");
          assert.deepEqual(refused, []);
        } finally {
          await worker.drain();
          await running;
        }
      });
    }
  } finally {
    for (const w of workers) w.kill();
    await server.close();
  }
});
