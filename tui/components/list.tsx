/**
 * A windowed list: only the rows that fit are rendered, so a 10,000-row list costs
 * what a 40-row one does. The selection is the caller's; the window follows it.
 */
import { Box, Text } from "ink";
import { type ReactNode, useEffect, useRef } from "react";
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
        // One screen row each, whatever the row's text: a long one is cut, never wrapped.
        <Box key={props.keyOf(item)} height={1} overflow="hidden">
          {props.row(item, win.start + i, win.start + i === selected)}
        </Box>
      ))}
      <Text dimColor>
        {win.start + 1}–{win.end} of {props.items.length}
      </Text>
    </Box>
  );
}

/** Where a list's selection is: the item's key, and its row when that item went away. */
interface Selection {
  key?: string;
  index: number;
}

/**
 * The selection of a list remembered under `name`, and the handler for j/k, arrows,
 * pages, g/G. The selection follows its item by key, not a screen row: when items
 * arrive above it (new tasks, newest first) the same item stays selected, so an
 * action never lands on whatever slid under the cursor. Only when the item leaves
 * the list does the selection fall back to the row it was on.
 * Returns [selected index (clamped), select index, handleKey].
 */
export function useListNav<T>(
  name: string,
  items: readonly T[],
  keyOf: (item: T) => string,
  page: number,
): [number, (i: number) => void, (key: string) => boolean] {
  const [raw, setRaw] = useRemembered<Selection>(`${name}.selected`, { index: 0 });
  const total = items.length;
  // Where it was last is checked first: a 10,000-row list is searched only when items moved.
  const found = raw.key === undefined
    ? -1
    : raw.index < total && keyOf(items[raw.index]) === raw.key
    ? raw.index
    : items.findIndex((item) => keyOf(item) === raw.key);
  const selected = found >= 0 ? found : clampIndex(raw.index, total);
  // What the operator sees selected is what a key acts on: a row selected by position (the
  // first render, or its item left) is bound to the item it now shows.
  const shownKey = total ? keyOf(items[selected]) : undefined;
  useEffect(() => {
    if (shownKey !== undefined && shownKey !== raw.key) setRaw({ key: shownKey, index: selected });
  }, [shownKey, raw.key]);
  const move = (to: number) => {
    const index = clampIndex(to, total);
    setRaw({ key: total ? keyOf(items[index]) : undefined, index });
  };
  const handle = (key: string) => {
    switch (listActionFor(key)) {
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
