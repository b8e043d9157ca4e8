/** Small helpers the conformance steps share. */
import type { BrokerTask, Lease } from "./broker.ts";

/** The suite's "now": every time is an offset from here, passed in explicitly. */
export const T0 = Date.UTC(2026, 0, 1);
export const TTL = 1_000;

let counter = 0;

/** A task ready at T0 unless `runAt` says otherwise; ids are unique per run and sort by creation. */
export function task(queue: string, priority: number, seq: number, runAt = T0): BrokerTask {
  counter++;
  return {
    id: `task-${String(counter).padStart(6, "0")}-${queue}-p${priority}-s${seq}`,
    queue,
    priority,
    seq,
    runAt,
  };
}

export function ids(items: ReadonlyArray<{ id: string } | { taskId: string }>): string[] {
  return items.map((i) => ("taskId" in i ? i.taskId : i.id));
}

export function leaseIds(leases: readonly Lease[]): string[] {
  return leases.map((l) => l.leaseId);
}

/**
 * Fails after `ms` instead of hanging when an awaited event never comes. A guard for a
 * broken broker only: passing tests never wait on it.
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, guard]);
  } finally {
    clearTimeout(timer);
  }
}
