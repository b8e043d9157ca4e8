/**
 * One delivery as an `email.send` task: the template rendered for the recipient (and
 * their content item), the signed unsubscribe link and the RFC 8058 one-click headers,
 * a Message-ID fixed by run and address, and an idempotency key of run + delivery, so a
 * delivery handed over twice (a dispatcher that crashed between enqueue and claim) is
 * still one task. The mail carries the unsubscribe token, a secret: it is sealed, and
 * the task's payload only refers to it (server/tasks/sealed_payloads.ts).
 */
import type { NewTask } from "../tasks/model.ts";
import { sealedReference } from "../tasks/sealed_payloads.ts";
import type { CampaignRow, RunRow } from "./campaign_queries.ts";
import type { ContentRow } from "./content_queries.ts";
import type { Candidate } from "./delivery_queries.ts";
import { type ParsedTemplate, renderTemplate } from "./templates.ts";

export const CAMPAIGN_QUEUE = "emails";
export const MAIL_TASK_TYPE = "email.send";
/** Below auth's mails (5): people waiting for a sign-up link go first. */
const PRIORITY = 0;
const MAX_ATTEMPTS = 5;
// 4xx: 30 s, 2 min, 8 min, 32 min.
export const CAMPAIGN_BACKOFF = { initialMs: 30_000, maxMs: 3_600_000, multiplier: 4 };
const TIMEOUT_MS = 60_000;
/** A sealed mail lives as long as its retries can. */
const SEAL_MS = 2 * 24 * 3600_000;

/** Labels that tie a task to its delivery; the ledger sync reads them. */
export const LABEL_RUN = "campaign_run";
export const LABEL_DELIVERY = "campaign_delivery";

export function limitGroupOf(campaignId: string): string {
  return `campaign:${campaignId}`;
}

/** What a template sees. */
export function templateVariables(
  c: Pick<CampaignRow, "id" | "name">,
  run: Pick<RunRow, "run_time"> | undefined,
  recipient: { email: string; name: string; userId: string },
  item: ContentRow | undefined,
  unsubscribeUrl: string,
  tagNames: (ids: string[]) => string[] = () => [],
): Record<string, unknown> {
  return {
    recipient: { email: recipient.email, name: recipient.name, user_id: recipient.userId },
    campaign: { id: c.id, name: c.name, run_time: run ? run.run_time.toISOString() : "" },
    unsubscribe_url: unsubscribeUrl,
    ...(item
      ? {
        item: {
          id: item.id,
          title: item.title,
          html: item.body_html,
          markdown: item.body_markdown,
          tags: tagNames(item.tag_ids),
          metadata: { ...item.metadata },
        },
      }
      : {}),
  };
}

export interface MailSettings {
  from: string;
  publicUrl: string;
  backoff?: NewTask["backoff"];
  maxAttempts?: number;
}

/** The task for one delivery, its mail rendered and sealed. */
export function deliveryTask(
  campaign: CampaignRow,
  run: RunRow,
  d: Candidate,
  parsed: ParsedTemplate,
  item: ContentRow | undefined,
  token: string,
  settings: MailSettings,
  now: number,
): NewTask {
  const url = `${settings.publicUrl.replace(/\/+$/, "")}/unsubscribe?token=${token}`;
  const vars = templateVariables(
    campaign,
    run,
    { email: d.email, name: d.display_name ?? "", userId: d.user_id ?? "" },
    item,
    url,
  );
  const mail = renderTemplate(parsed, vars);
  const body = {
    to: d.email,
    subject: mail.subject || campaign.name,
    text: mail.text,
    html: mail.html,
    from: settings.from,
    headers: {
      "Message-ID": d.message_id,
      "List-Unsubscribe": `<${url}>`,
      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    },
  };
  const sealId = crypto.randomUUID();
  return {
    queue: CAMPAIGN_QUEUE,
    type: MAIL_TASK_TYPE,
    payload: sealedReference(sealId),
    sealed: { id: sealId, body: new TextEncoder().encode(JSON.stringify(body)), expiresAt: now + SEAL_MS },
    priority: PRIORITY,
    runAt: now,
    maxAttempts: settings.maxAttempts ?? MAX_ATTEMPTS,
    backoff: settings.backoff ?? CAMPAIGN_BACKOFF,
    timeoutMs: TIMEOUT_MS,
    idempotencyKey: `campaign:${run.id}:${d.id}`,
    labels: { source: "campaign", campaign: campaign.id, [LABEL_RUN]: run.id, [LABEL_DELIVERY]: d.id },
    dependsOn: [],
    dependsOnBatchIndex: [],
    condition: "on_success",
    limitGroup: limitGroupOf(campaign.id),
  };
}
