/** The alert evaluator's settings. */
import type { EnvReader } from "../config.ts";

export interface AlertsConfig {
  /** How often the rules are evaluated; 0: this instance never evaluates them. */
  intervalMs: number;
}

export function readAlertsConfig(r: EnvReader): AlertsConfig {
  return { intervalMs: r.int("TASKMESH_ALERTS_INTERVAL_MS", 15_000, 0, 3_600_000) };
}
