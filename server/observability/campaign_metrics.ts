/**
 * The campaigns' metrics of this instance: the mails its ledger moved to sent, failed
 * (for good: a 5xx, retries exhausted, a template that failed for the recipient) or
 * skipped (unverified, disabled, suppressed, not a member, no content left, cancelled),
 * counted from the campaigns runtime's own events (CampaignsRuntime.onMails), as
 * task_metrics.ts counts the task engine's. A row moves once, on one instance, so the
 * sum over instances is every campaign's mails. No campaign id label: campaigns are
 * unbounded.
 */
import { type CampaignsRuntime, MAIL_OUTCOMES } from "../campaigns/mod.ts";
import type { MetricsRegistry } from "./metrics.ts";

export function observeCampaigns(registry: MetricsRegistry, campaigns: CampaignsRuntime): void {
  const mails = registry.counter(
    "taskmesh_campaign_mails_total",
    "Campaign deliveries this instance moved to an outcome: sent, failed (for good) or skipped.",
  );
  // Zero series from the start, so rate() and alerts see them before the first mail.
  for (const outcome of MAIL_OUTCOMES) mails.inc({ outcome }, 0);
  campaigns.onMails((outcome, count) => mails.inc({ outcome }, count));
}
