/**
 * A windowed list: only the rows that fit are rendered, so a 10,000-row list costs
 * what a 40-row one does. The selection is the caller's; the window follows it.
 */
import { Box, Text } from "ink";
import { type ReactNode, useRef } from "react";
import { listActionFor } from "../keys.ts";
import { clampIndex, windowAround } from "../data/window.ts";
import { useRemembered } from "../context.ts";

export interface ListProps<T> {
  items: readonly T[];
  selected: number;
  height: number;
  row: (item: T, index: number, selected: boolean) => ReactNode;
  keyOf: (item: T) => string;
  /** Shown when there are no items. */
  empty?: string;
}

export function List<T>(props: ListProps<T>) {
  const start = useRef(0);
  const rows = Math.max(1, props.height - 1);
  const selected = clampIndex(props.selected, props.items.length);
  const win = windowAround(props.items.length, selected, rows, start.current);
  start.current = win.start;
  if (props.items.length === 0) {
    return <Text dimColor>{props.empty ?? "nothing here"}</Text>;
  }
  const visible = props.items.slice(win.start, win.end);
  return (
    <Box flexDirection="column">
      {visible.map((item, i) => (
        <Box key={props.keyOf(item)}>{props.row(item, win.start + i, win.start + i === selected)}</Box>
      ))}
      <Text dimColor>
        {win.start + 1}–{win.end} of {props.items.length}
      </Text>
    </Box>
  );
}

/**
 * The selection of a list remembered under `key`, and the handler for j/k, arrows,
 * pages, g/G. Returns [selected (clamped), set, handleKey].
 */
export function useListNav(
  key: string,
  total: number,
  page: number,
): [number, (i: number) => void, (key: string) => boolean] {
  const [raw, setRaw] = useRemembered(`${key}.selected`, 0);
  const selected = clampIndex(raw, total);
  const move = (to: number) => setRaw(clampIndex(to, total));
  const handle = (name: string) => {
    switch (listActionFor(name)) {
      case "down":
        move(selected + 1);
        return true;
      case "up":
        move(selected - 1);
        return true;
      case "page-down":
        move(selected + Math.max(1, page - 1));
        return true;
      case "page-up":
        move(selected - Math.max(1, page - 1));
        return true;
      case "top":
        move(0);
        return true;
      case "bottom":
        move(total - 1);
        return true;
      default:
        return false;
    }
  };
  return [selected, move, handle];
}
