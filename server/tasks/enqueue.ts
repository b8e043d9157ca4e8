/**
 * Enqueueing from inside the server (auth's mails, later campaigns), the same way
 * TaskService.Enqueue does it: Postgres first, then the broker. An enqueue that
 * returned is never lost: if the broker does not answer, the reconciler mirrors the
 * task from Postgres once it does.
 */
import type { BrokerTask } from "../broker/broker.ts";
import type { NewTask, TaskRecord } from "./model.ts";
import { runnable, type TasksRuntime } from "./runtime.ts";

/** Stores validated tasks, then makes them runnable; a repeated idempotency key returns the first task. */
export async function enqueueTasks(
  rt: TasksRuntime,
  newTasks: NewTask[],
): Promise<{ tasks: TaskRecord[]; duplicates: boolean[] }> {
  const result = await rt.store.enqueue(newTasks, rt.clock.now());
  await acceptTasks(rt, result.tasks, result.duplicates);
  return result;
}

/** Tells the broker and the watchers about tasks Postgres has just accepted (duplicates aside). */
export async function acceptTasks(
  rt: TasksRuntime,
  records: TaskRecord[],
  duplicates: boolean[],
): Promise<void> {
  const fresh = records.filter((_, i) => !duplicates[i]);
  await rt.makeRunnable(fresh.map(runnable).filter((t): t is BrokerTask => t !== undefined)).catch((error) =>
    // Postgres has them: the reconciler will mirror them once the broker answers again.
    rt.log.warn("broker unavailable after enqueue; the reconciler will catch up", { error })
  );
  for (const t of fresh) rt.publish(t);
}
