/**
 * Group commit of single enqueues (the engine's half that takes them): plain tasks (no
 * idempotency key, no dependency, no sealed payload) sent one per call while an insert is
 * in flight wait for it, then go together in the next multi-row insert. Each caller is
 * answered once the insert holding its task has committed and been copied to the broker,
 * so an answered enqueue is as durable as before; under load a commit is shared by every
 * call that arrived meanwhile, and an idle call goes at once.
 */
import type { NewTask, TaskRecord } from "./model.ts";

/** Most tasks one grouped insert carries (EnqueueBatch's own bound). */
const GROUP_MAX = 1000;

interface Waiting {
  task: NewTask;
  resolve: (task: TaskRecord) => void;
  reject: (error: unknown) => void;
}

/** Whether a task may share an insert with others: nothing in it depends on the rest of a batch. */
export function groupable(task: NewTask): boolean {
  return task.idempotencyKey === "" && task.dependsOn.length === 0 && task.dependsOnBatchIndex.length === 0 &&
    !task.sealed;
}

export class EnqueueGroup {
  #waiting: Waiting[] = [];
  #flushing = false;

  /** `store` commits a batch and copies it to the broker; its tasks follow the input. */
  constructor(readonly store: (tasks: NewTask[]) => Promise<TaskRecord[]>) {}

  /** Enqueues one task with whatever others are waiting; resolves after its commit. */
  add(task: NewTask): Promise<TaskRecord> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ task, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#waiting.length > 0) {
        const group = this.#waiting.splice(0, GROUP_MAX);
        try {
          const stored = await this.store(group.map((w) => w.task));
          group.forEach((w, i) => w.resolve(stored[i]));
        } catch (error) {
          for (const w of group) w.reject(error);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }
}
