/**
 * The order tasks come out of a queue: highest priority first, then lowest seq (FIFO
 * within a priority), as one number so a Redis ZSET keeps it and both brokers agree.
 */

/** One priority step is worth more than any seq, so priority always wins. */
const PRIORITY_STEP = 1e13;
/** Largest seq that keeps every score an exact integer in a double (below 2^53). */
export const MAX_SEQ = PRIORITY_STEP - 1;

/** (9 − priority) × 1e13 + seq: lower comes out first. */
export function readyScore(priority: number, seq: number): number {
  if (!Number.isInteger(priority) || priority < 0 || priority > 9) {
    throw new RangeError(`priority ${priority} is out of range: use an integer from 0 to 9`);
  }
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > MAX_SEQ) {
    throw new RangeError(`seq ${seq} is out of range: use an integer from 0 to ${MAX_SEQ}`);
  }
  return (9 - priority) * PRIORITY_STEP + seq;
}

/** Redis orders equal scores by member bytes; the memory broker does the same with this. */
export function compareScored(a: { score: number; id: string }, b: { score: number; id: string }): number {
  if (a.score !== b.score) return a.score - b.score;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The ready score of a task, after checking everything the broker orders it by. */
export function taskScore(task: { id: string; priority: number; seq: number; runAt: number }): number {
  if (!Number.isFinite(task.runAt)) throw new RangeError(`runAt of task ${task.id} is not a time`);
  return readyScore(task.priority, task.seq);
}
