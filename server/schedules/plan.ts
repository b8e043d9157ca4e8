/**
 * What a due schedule does now, decided without I/O: which ticks fire (the catch-up
 * policy), what each does about a previous task that has not ended (the overlap policy),
 * and where the schedule goes next. The rules are written in docs/SCHEDULES.md.
 */
import { type CatchUpPolicy, ON_TIME_GRACE_MS, type OverlapPolicy, unfinished } from "./model.ts";
import { latestTicks, nextFireAt } from "./timing.ts";
import type { ScheduleDefinition } from "./model.ts";

/** The most ticks the skip policy fires at once when the loop itself fell behind. */
const ON_TIME_MAX = 100;

/** The most ticks fired at once for a schedule taken over from a dead instance. */
const TAKEN_OVER_MAX = 1000;

/**
 * The ticks to fire among those from `nextFire` up to `now`, and the next tick after now.
 * A tick within ON_TIME_GRACE_MS of now is on time; older ones were missed, and the
 * catch-up policy says which of them still fire. A schedule `takenOver` from an instance
 * that died while holding it missed nothing (the deployment was up): every tick since
 * fires, up to TAKEN_OVER_MAX.
 */
export function dueTicks(
  s: Pick<
    ScheduleDefinition,
    "timing" | "startAt" | "endAt" | "catchUp" | "catchUpWindowMs" | "catchUpLimit"
  >,
  nextFire: number,
  now: number,
  takenOver = false,
): { ticks: number[]; next: number | null } {
  const end = s.endAt ?? Infinity;
  const to = Math.min(now, end);
  const from = Math.max(nextFire, s.startAt ?? nextFire);
  const next = nextFireAt(s, now + 1);
  const pick = (policy: CatchUpPolicy): number[] => {
    switch (policy) {
      case "skip":
        return latestTicks(s.timing, Math.max(from, now - ON_TIME_GRACE_MS), to, ON_TIME_MAX);
      case "latest":
        return latestTicks(s.timing, from, to, 1);
      case "all":
        return latestTicks(s.timing, Math.max(from, now - s.catchUpWindowMs), to, s.catchUpLimit);
    }
  };
  if (takenOver) return { ticks: latestTicks(s.timing, from, to, TAKEN_OVER_MAX), next };
  return { ticks: pick(s.catchUp), next };
}

/** The previous fire's task, as the overlap policy sees it. */
export type Previous =
  | { kind: "task"; id: string; state: string | null }
  /** A tick planned earlier in the same plan: index into the plan; `buffered` when it waits. */
  | { kind: "planned"; index: number; buffered: boolean }
  | { kind: "none" };

export interface TickPlan {
  tickAt: number;
  action: "enqueue" | "buffer" | "skip";
  /** For "buffer": what the task waits on. */
  after?: Previous;
  /** A task to cancel first (cancel_previous). */
  cancel?: string;
  message: string;
}

function busy(p: Previous): boolean {
  return p.kind === "planned" || (p.kind === "task" && unfinished(p.state));
}

/** The overlap policy over the ticks firing now, in order. */
export function planOverlap(overlap: OverlapPolicy, ticks: number[], first: Previous): TickPlan[] {
  const plans: TickPlan[] = [];
  let prev = first;
  for (const tickAt of ticks) {
    const plan = decide(overlap, tickAt, prev, plans);
    plans.push(plan);
    if (plan.action !== "skip") {
      prev = { kind: "planned", index: plans.length - 1, buffered: plan.action === "buffer" };
    }
  }
  return plans;
}

function decide(overlap: OverlapPolicy, tickAt: number, prev: Previous, plans: TickPlan[]): TickPlan {
  if (overlap === "allow" || !busy(prev)) return { tickAt, action: "enqueue", message: "" };
  switch (overlap) {
    case "skip":
      return { tickAt, action: "skip", message: "the previous fire's task has not ended (overlap skip)" };
    case "buffer_one": {
      const buffered = prev.kind === "planned"
        ? prev.buffered
        : prev.kind === "task" && prev.state === "waiting";
      return buffered
        ? { tickAt, action: "skip", message: "one fire is already buffered (overlap buffer_one)" }
        : { tickAt, action: "buffer", after: prev, message: "" };
    }
    case "cancel_previous": {
      if (prev.kind === "planned") {
        // A later tick of the same catch-up supersedes it before it was ever enqueued.
        const superseded = plans[prev.index];
        plans[prev.index] = {
          tickAt: superseded.tickAt,
          action: "skip",
          message: "superseded by a later tick (overlap cancel_previous)",
        };
        return { tickAt, action: "enqueue", cancel: superseded.cancel, message: "" };
      }
      return { tickAt, action: "enqueue", cancel: prev.kind === "task" ? prev.id : undefined, message: "" };
    }
  }
}
