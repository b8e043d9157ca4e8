/** Campaigns: templates, the content library, runs with their delivery ledger, unsubscribe. */
export { type CampaignsOptions, CampaignsRuntime } from "./runtime.ts";
export { MAIL_OUTCOMES, type MailOutcome, type MailsListener } from "./mail_events.ts";
export { createCampaignServiceImpl } from "./service.ts";
export { type CronSpec, localRecurring, type RecurringPort } from "./recurring.ts";
