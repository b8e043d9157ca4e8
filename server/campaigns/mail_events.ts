/**
 * What the ledger did to campaign mails, told to whoever listens (the metrics,
 * server/observability/campaign_metrics.ts): how many rows moved to sent, failed or
 * skipped. Only rows an update actually moved are told (its `returning` rows or row
 * count, after its transaction committed), so a repeated or late task event, or another
 * instance applying the same outcome, tells nothing: each instance tells its own share.
 */
export type MailOutcome = "sent" | "failed" | "skipped";

export const MAIL_OUTCOMES: readonly MailOutcome[] = ["sent", "failed", "skipped"];

export type MailsListener = (outcome: MailOutcome, count: number) => void;

export class MailEvents {
  readonly #listeners = new Set<MailsListener>();

  /** Adds a listener; the function returned removes it. */
  on(listener: MailsListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** `count` rows moved to `outcome`; a listener that throws does not stop the ledger. */
  moved(outcome: MailOutcome, count: number): void {
    if (count <= 0) return;
    for (const listener of this.#listeners) {
      try {
        listener(outcome, count);
      } catch { /* a listener's failure is its own */ }
    }
  }
}

/** The mail outcome a ledger outcome moves a row to, if any (a retry moves none). */
export function mailOutcomeOf(kind: "sent" | "failed" | "retrying" | "cancelled"): MailOutcome | undefined {
  return kind === "retrying" ? undefined : kind === "cancelled" ? "skipped" : kind;
}
