/**
 * Reconnect delays: capped exponential backoff with full jitter, so a fleet of
 * workers that lost the same server does not come back in lockstep.
 */
export interface BackoffOptions {
  /** The ceiling of the first delay (default 250 ms). */
  initialMs?: number;
  /** The ceiling no delay exceeds (default 30 s). */
  maxMs?: number;
}

/** The delay before reconnect number `failures` (0 for the first try after a loss). */
export function backoffDelay(failures: number, options: BackoffOptions, random: () => number): number {
  const initial = options.initialMs ?? 250;
  const max = options.maxMs ?? 30_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(failures, 30));
  return Math.floor(random() * ceiling);
}
