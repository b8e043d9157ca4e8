/**
 * Auth's metrics: sign-ins by outcome, refresh-token reuse (a stolen token replayed),
 * and requests a rate limit refused. Auth tells an AuthObserver; this one counts.
 */
import type { AuditAction } from "../auth/audit.ts";
import type { AuthObserver } from "../auth/runtime.ts";
import type { MetricsRegistry } from "./metrics.ts";

export function authMetrics(registry: MetricsRegistry): AuthObserver {
  const logins = registry.counter(
    "taskmesh_auth_logins_total",
    "Sign-ins by outcome: success, or failure (wrong email or password, disabled account).",
  );
  const reuse = registry.counter(
    "taskmesh_auth_refresh_reuse_total",
    "Refresh tokens presented again after use: the session was revoked as stolen.",
  );
  const refused = registry.counter(
    "taskmesh_rate_limit_refusals_total",
    "Requests a rate limit refused, by bucket (login_ip, login_ip_email, register_ip...).",
  );
  // Zero series from the start, so rate() and alerts see them before the first event.
  for (const outcome of ["success", "failure"]) logins.inc({ outcome }, 0);
  reuse.inc({}, 0);
  const LOGIN: Partial<Record<AuditAction, string>> = {
    "auth.login.success": "success",
    "auth.login.failure": "failure",
  };
  return {
    audited(action) {
      const outcome = LOGIN[action];
      if (outcome) logins.inc({ outcome });
      else if (action === "auth.refresh.reuse") reuse.inc();
    },
    refused(bucket) {
      refused.inc({ bucket });
    },
  };
}
