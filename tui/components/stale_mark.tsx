/**
 * The marker a view's title line carries while its figures come from a stream that is
 * down: they stay on screen (dimmed by the view), but say since when they may be stale.
 */
import { Text } from "ink";
import { gap } from "../data/format.ts";

/** "14:03:07", local time. */
export function timeOfDay(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

export function StaleMark({ since }: { since: number | undefined }) {
  if (since === undefined) return null;
  return <Text color="red">{gap(2)}⚠ disconnected · stale since {timeOfDay(since)}</Text>;
}
