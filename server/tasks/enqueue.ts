/**
 * Enqueueing from inside the server (auth's mails, later campaigns), the same way
 * TaskService.Enqueue does it: Postgres first, then the broker. An enqueue that
 * returned is never lost: if the broker does not answer, the reconciler mirrors the
 * task from Postgres once it does.
 */
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
  // Postgres has them: if the broker fails now, the next promoter tick rebuilds it from Postgres.
  await rt.mirror("enqueue", () => rt.makeRunnable(fresh.map(runnable).filter((t) => t !== undefined)));
  for (const t of fresh) rt.publish(t);
}
