/**
 * Windowed lists: only the rows that fit are rendered, however long the list. Given
 * the selection and where the window was, where it is now. Pure.
 */
export interface ListWindow {
  start: number;
  end: number;
}

/** Keeps `selected` visible, moving the window as little as possible. */
export function windowAround(total: number, selected: number, height: number, previousStart = 0): ListWindow {
  const rows = Math.max(1, height);
  if (total <= rows) return { start: 0, end: total };
  let start = Math.min(Math.max(0, previousStart), total - rows);
  if (selected < start) start = selected;
  else if (selected >= start + rows) start = selected - rows + 1;
  start = Math.max(0, Math.min(start, total - rows));
  return { start, end: start + rows };
}

/** A selection kept inside the list after it shrank or grew. */
export function clampIndex(index: number, total: number): number {
  return total === 0 ? 0 : Math.max(0, Math.min(index, total - 1));
}
