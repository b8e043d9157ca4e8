/** A row of block characters for a series of samples, scaled to its own maximum. Pure. */
const BARS = "▁▂▃▄▅▆▇█";

export function sparkline(samples: readonly number[], width: number): string {
  const tail = samples.slice(-width);
  const max = Math.max(0, ...tail);
  const line = tail.map((v) => max === 0 ? BARS[0] : BARS[Math.min(7, Math.round((v / max) * 7))]).join("");
  return line.padEnd(width, " ");
}

/** A horizontal bar `width` cells wide, filled to `fraction` (0–1). */
export function bar(fraction: number, width: number): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return "█".repeat(full) + "░".repeat(width - full);
}
