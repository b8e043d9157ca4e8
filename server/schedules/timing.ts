/**
 * When a schedule ticks, computed the same way on every instance: croner for cron
 * expressions in an IANA time zone (its DST rule, docs/SCHEDULES.md), arithmetic for
 * intervals aligned to their anchor, and the one time of a one-shot. Times are
 * milliseconds since the epoch.
 */
import { Cron } from "croner";
import type { ScheduleDefinition, Timing } from "./model.ts";

/** A cron expression of 5 or 6 fields in a zone; throws (croner's message) when either is bad. */
export function cronOf(cron: string, timeZone: string): Cron {
  // Intl refuses unknown zones at once; croner would only fail at the first computation.
  new Intl.DateTimeFormat("en", { timeZone });
  return new Cron(cron, { timezone: timeZone, mode: "5-or-6-parts", domAndDow: false });
}

const crons = new Map<string, Cron>();

function cached(cron: string, timeZone: string): Cron {
  const key = `${timeZone}\u0000${cron}`;
  let c = crons.get(key);
  if (!c) {
    if (crons.size > 10_000) crons.clear();
    crons.set(key, c = cronOf(cron, timeZone));
  }
  return c;
}

/** The first tick at or after `from`, ignoring start and end. */
export function tickAtOrAfter(timing: Timing, from: number): number | null {
  switch (timing.kind) {
    case "once":
      return timing.at >= from ? timing.at : null;
    case "interval": {
      const k = Math.ceil((from - timing.anchorAt) / timing.intervalMs);
      return timing.anchorAt + k * timing.intervalMs;
    }
    case "cron":
      // croner works in whole seconds and looks strictly after its reference.
      return cached(timing.cron, timing.timeZone).nextRun(new Date(from - 1))?.getTime() ?? null;
  }
}

/** Up to `max` of the latest ticks in [from, to], oldest first, ignoring start and end. */
export function latestTicks(timing: Timing, from: number, to: number, max: number): number[] {
  if (to < from || max <= 0) return [];
  switch (timing.kind) {
    case "once":
      return timing.at >= from && timing.at <= to ? [timing.at] : [];
    case "interval": {
      const last = timing.anchorAt +
        Math.floor((to - timing.anchorAt) / timing.intervalMs) * timing.intervalMs;
      const ticks: number[] = [];
      for (let t = last; t >= from && ticks.length < max; t -= timing.intervalMs) ticks.push(t);
      return ticks.reverse();
    }
    case "cron":
      // previousRuns includes a run earlier in the same second as its reference: `to + 1` keeps `to`.
      return cached(timing.cron, timing.timeZone).previousRuns(max, new Date(to + 1))
        .map((d) => d.getTime()).filter((t) => t >= from && t <= to).reverse();
  }
}

type Bounds = Pick<ScheduleDefinition, "timing" | "startAt" | "endAt">;

/** The first tick at or after `from` within the schedule's start and end; null when none is left. */
export function nextFireAt(def: Bounds, from: number): number | null {
  const t = tickAtOrAfter(def.timing, Math.max(from, def.startAt ?? from));
  return t === null || (def.endAt !== null && t > def.endAt) ? null : t;
}

/** The next `count` fire times from `from` (PreviewSchedule). */
export function preview(def: Bounds, from: number, count: number): number[] {
  const times: number[] = [];
  let at = from;
  while (times.length < count) {
    const t = nextFireAt(def, at);
    if (t === null) break;
    times.push(t);
    at = t + 1;
  }
  return times;
}

/** A tick's jitter: the same on every instance, in [0, jitterMs). */
export function jitterOf(scheduleId: string, tickAt: number, jitterMs: number): number {
  if (jitterMs <= 0) return 0;
  // FNV-1a of id and tick: cheap, stable, spread enough for a delay.
  let hash = 0x811c9dc5;
  for (const ch of `${scheduleId}@${tickAt}`) {
    hash ^= ch.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % jitterMs;
}
