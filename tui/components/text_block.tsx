/**
 * A titled block of text lines cut to the room it has: each line fitted to the width,
 * and a dim "… N more lines" when the block is longer (payloads, outputs, stack traces).
 */
import { Text } from "ink";
import { fit } from "../data/format.ts";

/**
 * Rows a block of `lines` takes with at most `room` text rows: its title, its lines, the "more"
 * line; none when it is empty or has no room (a terminal too short shows the block not at all).
 */
export function blockRows(lines: readonly string[], room: number): number {
  if (lines.length === 0 || room <= 0) return 0;
  return 1 + Math.min(lines.length, room) + (lines.length > room ? 1 : 0);
}

export function TextBlock(
  props: { title: string; lines: readonly string[]; room: number; width: number; color?: string },
) {
  const { lines, room } = props;
  if (blockRows(lines, room) === 0) return null;
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
