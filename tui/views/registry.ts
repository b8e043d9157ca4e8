/** Every view, in tab and number order, with the names `:` accepts. */
import type { FunctionComponent } from "react";
import type { ViewId } from "../keys.ts";
import { CampaignsView } from "./campaigns.tsx";
import { AlertsView } from "./alerts.tsx";
import { DeadLettersView } from "./dead_letters.tsx";
import { OverviewView } from "./overview.tsx";
import { QueuesView } from "./queues.tsx";
import { SchedulesView } from "./schedules.tsx";
import { SuggestionsView } from "./suggestions.tsx";
import { TagTreeView } from "./tag_tree.tsx";
import { TasksView } from "./tasks.tsx";
import type { ViewProps } from "./view.ts";
import { WorkersView } from "./workers.tsx";

export interface ViewDef {
  id: ViewId;
  title: string;
  /** The header's name. */
  tab: string;
  /** Its name when the header must be narrow (80 columns): the active view keeps `tab`. */
  short: string;
  aliases: readonly string[];
  component: FunctionComponent<ViewProps>;
}

export const VIEWS: readonly ViewDef[] = [
  {
    id: "overview",
    tab: "Overview",
    short: "Ovw",
    title: "Overview",
    aliases: ["ov", "home"],
    component: OverviewView,
  },
  {
    id: "queues",
    tab: "Queues",
    short: "Que",
    title: "Queues",
    aliases: ["queue", "qs"],
    component: QueuesView,
  },
  { id: "tasks", tab: "Tasks", short: "Tsk", title: "Tasks", aliases: ["task"], component: TasksView },
  {
    id: "dead",
    tab: "Dead",
    short: "Dlq",
    title: "Dead letters",
    aliases: ["dlq", "deadletters", "dead-letters"],
    component: DeadLettersView,
  },
  {
    id: "workers",
    tab: "Workers",
    short: "Wkr",
    title: "Workers",
    aliases: ["worker", "wk"],
    component: WorkersView,
  },
  {
    id: "suggestions",
    tab: "Approval",
    short: "Apr",
    title: "Tag approval",
    aliases: ["approval", "approve", "tags"],
    component: SuggestionsView,
  },
  {
    id: "tree",
    tab: "Tree",
    short: "Tre",
    title: "Tag tree",
    aliases: ["tagtree", "tag-tree"],
    component: TagTreeView,
  },
  {
    id: "alerts",
    tab: "Alerts",
    short: "Alr",
    title: "Alerts",
    aliases: ["alert", "al", "rules"],
    component: AlertsView,
  },
  {
    id: "schedules",
    tab: "Schedules",
    short: "Sch",
    title: "Schedules",
    aliases: ["schedule", "cron"],
    component: SchedulesView,
  },
  {
    id: "campaigns",
    tab: "Campaigns",
    short: "Cmp",
    title: "Campaigns",
    aliases: ["campaign", "cmp", "mail"],
    component: CampaignsView,
  },
];

/** The view a typed name means: an id, an alias, a title, or a unique prefix of one. */
export function findView(name: string): ViewDef | undefined {
  const n = name.trim().toLowerCase();
  if (!n) return undefined;
  const names = (v: ViewDef) => [v.id, ...v.aliases, v.title.toLowerCase()];
  const exact = VIEWS.find((v) => names(v).includes(n));
  if (exact) return exact;
  const prefixed = VIEWS.filter((v) => names(v).some((x) => x.startsWith(n)));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

export function viewIndex(id: ViewId): number {
  return VIEWS.findIndex((v) => v.id === id);
}

/** The number key of the view at `index`: 1–9, then 0 for the tenth. */
export function viewKey(index: number): string {
  return String((index + 1) % 10);
}

/** The index of the view a number key shows. */
export function viewOfKey(key: string): number {
  return key === "0" ? 9 : Number(key) - 1;
}
