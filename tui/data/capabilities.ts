/**
 * What the signed-in operator may do, from their role (users) or scopes (API keys),
 * narrowed by --read-only. Views show an action key only when its capability holds, so
 * a viewer sees no action keys at all.
 */
import type { Identity } from "./session.ts";

export interface Capabilities {
  /** Read queues, tasks and workers. */
  readTasks: boolean;
  /** Pause, resume, retry, cancel, requeue, purge, drain. */
  operate: boolean;
  /** Read the tag tree. */
  readTags: boolean;
  /** Watch and decide tag suggestions (admins only: API keys cannot). */
  approveTags: boolean;
  /** Read campaigns, their figures and deliveries. */
  readCampaigns: boolean;
  /** Pause, resume and cancel campaigns. */
  manageCampaigns: boolean;
}

export type Capability = keyof Capabilities;

export function capabilitiesOf(identity: Identity, readOnly: boolean): Capabilities {
  const role = identity.role;
  const scopes = new Set(identity.scopes);
  const staff = role === "viewer" || role === "operator" || role === "admin";
  const acting = role === "operator" || role === "admin";
  return {
    readTasks: staff || scopes.has("tasks:read") || scopes.has("tasks:manage"),
    operate: !readOnly && (acting || scopes.has("tasks:manage")),
    readTags: role !== undefined || scopes.has("tags:read"),
    approveTags: !readOnly && role === "admin",
    readCampaigns: staff || scopes.has("campaigns:read") || scopes.has("campaigns:manage"),
    manageCampaigns: !readOnly && (acting || scopes.has("campaigns:manage")),
  };
}

/** Whether an admin may see the approval queue even when --read-only hides its keys. */
export function canWatchSuggestions(identity: Identity): boolean {
  return identity.role === "admin";
}
