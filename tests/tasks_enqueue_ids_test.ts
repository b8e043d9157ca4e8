/**
 * EnqueueBatch's `ids_only`: a bulk producer gets the accepted tasks' ids in request order
 * instead of whole tasks, duplicates included, and the tasks are stored all the same.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { TaskService, TaskState } from "../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { bearer, credentials } from "./_support/raw_worker.ts";
import { startTestServer } from "./_support/server.ts";

Deno.test("EnqueueBatch with ids_only answers the ids in request order, the first task's id for a duplicate", async () => {
  const server = await startTestServer({ redis: true });
  try {
    const { admin } = await credentials(server);
    const as = bearer(admin);
    const tasks = createClient(TaskService, server.grpc());
    const { task: earlier } = await tasks.enqueue(
      { task: { queue: "ids", type: "noop", idempotencyKey: "seen-before" } },
      as,
    );

    const specs = [
      { queue: "ids", type: "noop", labels: { n: "0" } },
      { queue: "ids", type: "noop", idempotencyKey: "seen-before" },
      { queue: "ids", type: "noop", labels: { n: "2" } },
    ];
    const answer = await tasks.enqueueBatch({ tasks: specs, idsOnly: true }, as);
    assert.deepEqual(answer.tasks, [], "no whole tasks when only ids were asked for");
    assert.deepEqual(answer.duplicates, [false, true, false]);
    assert.equal(answer.ids.length, 3);
    assert.equal(answer.ids[1], earlier!.id, "a duplicate answers the existing task's id");

    for (const [i, id] of answer.ids.entries()) {
      const { task } = await tasks.getTask({ id }, as);
      assert.equal(task!.spec!.queue, "ids");
      if (i !== 1) {
        assert.equal(task!.spec!.labels.n, String(i), "ids come in request order");
        assert.equal(task!.state, TaskState.QUEUED);
      }
    }

    // The default is unchanged: whole tasks and no ids.
    const full = await tasks.enqueueBatch({ tasks: [{ queue: "ids", type: "noop" }] }, as);
    assert.equal(full.tasks.length, 1);
    assert.deepEqual(full.ids, []);
  } finally {
    await server.close();
  }
});
