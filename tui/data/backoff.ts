/**
 * Reconnect delays: capped exponential backoff with full jitter, so many operators'
 * terminals that lost the same server do not come back in lockstep.
 */
export interface BackoffOptions {
  /** The ceiling of the first delay (default 250 ms). */
  initialMs?: number;
  /** The ceiling no delay exceeds (default 15 s: an operator is watching). */
  maxMs?: number;
}

/** The delay before retry number `failures` (0 for the first retry after a loss). */
export function backoffDelay(
  failures: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialMs ?? 250;
  const max = options.maxMs ?? 15_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(failures, 30));
  // At least a tenth of the ceiling, so a burst of failures never spins.
  return Math.floor(ceiling / 10 + random() * ceiling * 0.9);
}
