/** Block-character rows for series of samples, and bars. Pure. */
const BARS = "▁▂▃▄▅▆▇█";

/**
 * A row of block characters for `samples`, scaled to `max`: pass one `max` for every
 * row of a table so that rows compare (a steady queue at 2/s must not show the full
 * bar a queue at 200/s shows). Without one, the row is scaled to its own largest sample.
 */
export function sparkline(samples: readonly number[], width: number, max?: number): string {
  const tail = samples.slice(-width);
  const top = max ?? Math.max(0, ...tail);
  const line = tail.map((v) =>
    top <= 0 || v <= 0 ? BARS[0] : BARS[Math.max(1, Math.min(7, Math.round((v / top) * 7)))]
  ).join("");
  return line.padEnd(width, " ");
}

/** A horizontal bar `width` cells wide, filled to `fraction` (0–1). */
export function bar(fraction: number, width: number): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return "█".repeat(full) + "░".repeat(width - full);
}
