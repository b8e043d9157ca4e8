/**
 * Who may call what: every method of every service in `gen/`, implemented or not yet,
 * in one table. The authentication interceptor enforces it on every call; a method
 * missing here is refused, and tests/auth_matrix_test.ts fails for it, so a new RPC
 * cannot ship without a decision.
 *
 * Roles are for signed-in users (JWT), scopes for API keys; a caller needs one or the
 * other. The roles rise member < viewer < operator < admin, except that the viewer is
 * read-only: whatever changes state on a member's behalf (suggesting, subscribing) is
 * member, operator and admin, never viewer.
 */
import type { Role } from "../auth/caller.ts";
import { ANY_API_KEY, type ApiKeyScope } from "./scopes.ts";

export type Rule =
  | { readonly public: true }
  | { readonly roles: readonly Role[]; readonly scopes: readonly (ApiKeyScope | typeof ANY_API_KEY)[] };

const PUBLIC: Rule = { public: true };

// Role sets, named by who they let in.
const SIGNED_IN: readonly Role[] = ["member", "viewer", "operator", "admin"];
const ACTING_MEMBERS: readonly Role[] = ["member", "operator", "admin"];
const READERS: readonly Role[] = ["viewer", "operator", "admin"];
const OPERATORS: readonly Role[] = ["operator", "admin"];
const ADMINS: readonly Role[] = ["admin"];

function allow(roles: readonly Role[], ...scopes: (ApiKeyScope | typeof ANY_API_KEY)[]): Rule {
  return { roles, scopes };
}

export const AUTHZ_TABLE: Readonly<Record<string, Readonly<Record<string, Rule>>>> = {
  "taskmesh.auth.v1.AuthService": {
    Register: PUBLIC,
    VerifyEmail: PUBLIC,
    ResendVerification: PUBLIC,
    Login: PUBLIC,
    Refresh: PUBLIC,
    // The refresh token is the credential, so a browser whose access token expired can still log out.
    Logout: PUBLIC,
    LogoutAll: allow(SIGNED_IN),
    RequestPasswordReset: PUBLIC,
    ResetPassword: PUBLIC,
    GetMe: allow(SIGNED_IN, ANY_API_KEY),
    GetJwks: PUBLIC,
    RotateSigningKey: allow(ADMINS),
    ListUsers: allow(ADMINS),
    SetRole: allow(ADMINS),
    DisableUser: allow(ADMINS),
    // Members may delegate nothing (grantableScopes), so keys start at viewer.
    CreateApiKey: allow(READERS),
    ListApiKeys: allow(READERS),
    RevokeApiKey: allow(READERS),
    // Any signed-in person changes their own password; an API key has none.
    ChangePassword: allow(SIGNED_IN),
  },
  "taskmesh.tags.v1.TagService": {
    CreateTag: allow(ADMINS),
    UpdateTag: allow(ADMINS),
    MoveTag: allow(ADMINS),
    DeleteTag: allow(ADMINS),
    AddTagAlias: allow(ADMINS),
    RemoveTagAlias: allow(ADMINS),
    GetTag: allow(SIGNED_IN, "tags:read"),
    ListTags: allow(SIGNED_IN, "tags:read"),
    GetTree: allow(SIGNED_IN, "tags:read"),
    ListAncestors: allow(SIGNED_IN, "tags:read"),
    ListDescendants: allow(SIGNED_IN, "tags:read"),
    SuggestTag: allow(ACTING_MEMBERS),
    ListSuggestions: allow(ADMINS),
    ApproveSuggestion: allow(ADMINS),
    MapSuggestion: allow(ADMINS),
    RejectSuggestion: allow(ADMINS),
    WatchSuggestions: allow(ADMINS),
    Subscribe: allow(ACTING_MEMBERS),
    Unsubscribe: allow(ACTING_MEMBERS),
    ListMySubscriptions: allow(SIGNED_IN),
    ListMySuggestions: allow(SIGNED_IN),
    ResolveAudience: allow(OPERATORS, "tags:read"),
  },
  "taskmesh.campaigns.v1.CampaignService": {
    CreateTemplate: allow(OPERATORS, "campaigns:manage"),
    UpdateTemplate: allow(OPERATORS, "campaigns:manage"),
    GetTemplate: allow(READERS, "campaigns:read"),
    ListTemplates: allow(READERS, "campaigns:read"),
    DeleteTemplate: allow(OPERATORS, "campaigns:manage"),
    PreviewTemplate: allow(READERS, "campaigns:read"),
    CreateCampaign: allow(OPERATORS, "campaigns:manage"),
    UpdateCampaign: allow(OPERATORS, "campaigns:manage"),
    GetCampaign: allow(READERS, "campaigns:read"),
    ListCampaigns: allow(READERS, "campaigns:read"),
    LaunchCampaign: allow(OPERATORS, "campaigns:manage"),
    PauseCampaign: allow(OPERATORS, "campaigns:manage"),
    ResumeCampaign: allow(OPERATORS, "campaigns:manage"),
    CancelCampaign: allow(OPERATORS, "campaigns:manage"),
    ListDeliveries: allow(READERS, "campaigns:read"),
    WatchCampaign: allow(READERS, "campaigns:read"),
    // The signed link is the credential: recipients have no account.
    UnsubscribeByToken: PUBLIC,
    // The content library holds no addresses; deliveries and runs are READERS only, so
    // members never see who else receives a campaign.
    CreateContentItem: allow(OPERATORS, "campaigns:manage"),
    UpdateContentItem: allow(OPERATORS, "campaigns:manage"),
    GetContentItem: allow(READERS, "campaigns:read"),
    ListContentItems: allow(READERS, "campaigns:read"),
    DeleteContentItem: allow(OPERATORS, "campaigns:manage"),
    ImportContentItems: allow(OPERATORS, "campaigns:manage"),
    ListCampaignRuns: allow(READERS, "campaigns:read"),
    StartCampaignRun: allow(OPERATORS, "campaigns:manage"),
    // The same signed link that unsubscribed: the web page's undo.
    ResubscribeByToken: PUBLIC,
    // A person's own received mails (their rows only); an API key has no mailbox.
    ListMyDeliveries: allow(SIGNED_IN),
  },
  "taskmesh.tasks.v1.TaskService": {
    Enqueue: allow(OPERATORS, "tasks:enqueue"),
    EnqueueBatch: allow(OPERATORS, "tasks:enqueue"),
    GetTask: allow(READERS, "tasks:read"),
    ListTasks: allow(READERS, "tasks:read"),
    CancelTask: allow(OPERATORS, "tasks:manage"),
    RetryTask: allow(OPERATORS, "tasks:manage"),
    ListQueues: allow(READERS, "tasks:read"),
    PauseQueue: allow(OPERATORS, "tasks:manage"),
    ResumeQueue: allow(OPERATORS, "tasks:manage"),
    ConfigureQueue: allow(OPERATORS, "tasks:manage"),
    ListDeadLetters: allow(READERS, "tasks:read"),
    RequeueDeadLetters: allow(OPERATORS, "tasks:manage"),
    PurgeDeadLetters: allow(OPERATORS, "tasks:manage"),
    WatchTasks: allow(READERS, "tasks:read"),
    WatchQueues: allow(READERS, "tasks:read"),
    CreateSchedule: allow(OPERATORS, "tasks:manage"),
    GetSchedule: allow(READERS, "tasks:read"),
    ListSchedules: allow(READERS, "tasks:read"),
    PauseSchedule: allow(OPERATORS, "tasks:manage"),
    DeleteSchedule: allow(OPERATORS, "tasks:manage"),
    UpdateSchedule: allow(OPERATORS, "tasks:manage"),
    ResumeSchedule: allow(OPERATORS, "tasks:manage"),
    TriggerSchedule: allow(OPERATORS, "tasks:manage"),
    ListScheduleFires: allow(READERS, "tasks:read"),
    PreviewSchedule: allow(READERS, "tasks:read"),
    ConfigureLimitGroup: allow(OPERATORS, "tasks:manage"),
    ListLimitGroups: allow(READERS, "tasks:read"),
    // Defaults change every later Enqueue of a type, whoever sends it: admins only, by login.
    SetTaskTypeDefaults: allow(ADMINS),
    ListTaskTypeDefaults: allow(READERS, "tasks:read"),
  },
  "taskmesh.tasks.v1.WorkerService": {
    // Workers are programs: only a key with the worker scope, never a person's token.
    Connect: allow([], "worker"),
    ListWorkers: allow(READERS, "tasks:read"),
    WatchWorkers: allow(READERS, "tasks:read"),
    DrainWorker: allow(OPERATORS, "tasks:manage"),
  },
  // Admins manage alert rules (they say where mail and webhooks go); readers see rules and firing alerts.
  "taskmesh.alerts.v1.AlertService": {
    CreateAlertRule: allow(ADMINS),
    DeleteAlertRule: allow(ADMINS),
    ListAlertRules: allow(READERS, "tasks:read"),
    ListFiringAlerts: allow(READERS, "tasks:read"),
  },
  // Load balancers and tooling call these without credentials.
  "grpc.health.v1.Health": {
    Check: PUBLIC,
    Watch: PUBLIC,
  },
  "grpc.reflection.v1.ServerReflection": {
    ServerReflectionInfo: PUBLIC,
  },
  "grpc.reflection.v1alpha.ServerReflection": {
    ServerReflectionInfo: PUBLIC,
  },
};

/** The rule for a method, or undefined when the table has none (the call must be refused). */
export function ruleFor(serviceTypeName: string, methodName: string): Rule | undefined {
  return Object.hasOwn(AUTHZ_TABLE, serviceTypeName) &&
      Object.hasOwn(AUTHZ_TABLE[serviceTypeName], methodName)
    ? AUTHZ_TABLE[serviceTypeName][methodName]
    : undefined;
}

export type Decision = "allow" | "unauthenticated" | "denied";

/** What a rule says about a caller that is anonymous, a user with a role, or a key with scopes. */
export function decide(
  rule: Rule,
  caller: { kind: "anonymous" } | { kind: "user"; role: Role } | {
    kind: "api_key";
    scopes: readonly string[];
  },
): Decision {
  if ("public" in rule) return "allow";
  switch (caller.kind) {
    case "anonymous":
      return "unauthenticated";
    case "user":
      return rule.roles.includes(caller.role) ? "allow" : "denied";
    case "api_key":
      return rule.scopes.some((s) => s === ANY_API_KEY || caller.scopes.includes(s)) ? "allow" : "denied";
  }
}
