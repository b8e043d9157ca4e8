/**
 * Dead letters against a real server: they arrive live, and requeue one, the
 * selected, or all, and purge one or all — every one of them asking first.
 */
import assert from "node:assert/strict";
import type { RawWorker } from "./_support/raw_worker.ts";
import { renderTui, startTuiHarness, until } from "./_support/tui_harness.ts";

/** Takes `n` assignments and fails each for good. */
async function failEach(worker: RawWorker, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const assign = await worker.nextOf("assign");
    worker.send({
      case: "result",
      value: {
        taskId: assign.task!.id,
        leaseId: assign.leaseId,
        outcome: {
          case: "error",
          value: { message: `bounced: ${assign.task!.spec!.type}`, retryable: false },
        },
      },
    });
    await worker.nextOf("resultAck");
  }
}

Deno.test("TUI dead letters", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  const h = await startTuiHarness();
  const session = await h.session("operator");
  const screen = renderTui({ url: h.url, session, initialView: "dead" });
  const deadCount = async () => (await h.tasks.listDeadLetters({ pageSize: 100 })).tasks.length;
  try {
    await t.step("tasks that fail for good arrive as dead letters, live, with their error", async () => {
      await screen.waitFor("no dead letters");
      const worker = await h.worker(["mail", "sms"], { concurrency: 1 });
      for (let i = 0; i < 4; i++) {
        await h.tasks.enqueue({ task: { queue: "mail", type: `mail.${i}`, maxAttempts: 1 } });
      }
      for (let i = 0; i < 3; i++) {
        await h.tasks.enqueue({ task: { queue: "sms", type: `sms.${i}`, maxAttempts: 1 } });
      }
      await failEach(worker, 7);
      const frame = await screen.waitFor("Dead letters 7");
      assert.match(frame, /mail\.0 .*bounced: mail\.0/);
      // Requeued tasks must stay queued for the next steps: no worker from here on.
      worker.kill();
      await worker.ended;
    });

    await t.step("r requeues the selected one after asking", async () => {
      // The selection stayed on the first dead letter while the others arrived above it.
      screen.press("g", "r");
      const frame = await screen.waitFor(/Requeue dead letter [0-9a-f]{8} \(sms\.2\)\? y\/n/);
      assert.ok(frame);
      screen.press("y");
      await screen.waitFor("1 dead letter requeued");
      await screen.waitFor("Dead letters 6");
      assert.equal(await deadCount(), 6);
    });

    await t.step("space selects; R requeues the selected after asking", async () => {
      screen.press(" ");
      screen.press("j", " ");
      await screen.waitFor("2 selected");
      screen.press("R");
      await screen.waitFor("Requeue 2 selected dead letters? y/n");
      screen.press("y");
      await screen.waitFor("2 dead letters requeued");
      await screen.waitFor("Dead letters 4");
      assert.equal(await deadCount(), 4);
    });

    await t.step("d purges the selected one after asking; n keeps it", async () => {
      screen.press("d");
      await screen.waitFor("Purge 1 dead letter for good? y/n");
      screen.press("n");
      await screen.waitFor("cancelled: nothing was changed");
      assert.equal(await deadCount(), 4);
      screen.press("d");
      await screen.waitFor("Purge 1 dead letter for good? y/n");
      screen.press("y");
      await screen.waitFor("1 dead letter purged");
      await screen.waitFor("Dead letters 3");
      assert.equal(await deadCount(), 3);
    });

    await t.step("A requeues every dead letter after asking", async () => {
      screen.press("A");
      await screen.waitFor(/Requeue ALL dead letters of mail\? y\/n/);
      screen.press("y");
      await screen.waitFor("3 dead letters requeued from 1 queue");
      await screen.waitFor("no dead letters");
      assert.equal(await deadCount(), 0);
    });

    await t.step("D purges every dead letter after asking", async () => {
      const worker = await h.worker(["mail", "sms"], { concurrency: 1 });
      await failEach(worker, 6);
      await screen.waitFor("Dead letters 6");
      screen.press("D");
      await screen.waitFor(/Purge ALL dead letters of (mail, sms|sms, mail) for good\? y\/n/);
      screen.press("y");
      await screen.waitFor("6 dead letters purged from 2 queues");
      await screen.waitFor("no dead letters");
      await until("purged on the server", async () => (await deadCount()) === 0 || undefined);
    });
  } finally {
    screen.unmount();
    await h.close();
  }
});
