/**
 * A titled block of text lines cut to the room it has: each line fitted to the width,
 * and a dim "… N more lines" when the block is longer (payloads, outputs, stack traces).
 */
import { Text } from "ink";
import { fit } from "../data/format.ts";

/** Rows a block of `lines` takes with at most `room` text rows: its title, its lines, the "more" line. */
export function blockRows(lines: readonly string[], room: number): number {
  return lines.length === 0 ? 0 : 1 + Math.min(lines.length, room) + (lines.length > room ? 1 : 0);
}

export function TextBlock(
  props: { title: string; lines: readonly string[]; room: number; width: number; color?: string },
) {
  const { lines, room } = props;
  if (lines.length === 0) return null;
  return (
    <>
      <Text bold>{props.title}</Text>
      {lines.slice(0, room).map((line, i) => (
        <Text key={i} color={props.color} wrap="truncate-end">{fit(line, props.width).trimEnd()}</Text>
      ))}
      {lines.length > room ? <Text dimColor>… {lines.length - room} more lines</Text> : null}
    </>
  );
}
