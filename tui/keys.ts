/**
 * The key map, k9s habits: `?` help, `/` filter, `:` jump, `esc` back, `q` quit, and
 * every destructive key asks first. One table drives the dispatcher, the help overlay
 * and the key hints, so what the operator is shown is exactly what works — and an
 * action key whose capability the operator lacks (a viewer, --read-only) is neither
 * shown nor bound.
 */
import type { Capabilities, Capability } from "./data/capabilities.ts";

export type ViewId =
  | "overview"
  | "queues"
  | "tasks"
  | "dead"
  | "workers"
  | "alerts"
  | "suggestions"
  | "tree"
  | "schedules"
  | "campaigns";

export interface Binding {
  keys: readonly string[];
  action: string;
  help: string;
  /** The capability the action needs; absent means anyone. */
  needs?: Capability;
  /** The action asks for confirmation before it runs. */
  confirm?: boolean;
}

/** The subset of ink's Key the dispatcher reads. */
export interface KeyFlags {
  upArrow?: boolean;
  downArrow?: boolean;
  leftArrow?: boolean;
  rightArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  return?: boolean;
  escape?: boolean;
  ctrl?: boolean;
  shift?: boolean;
  tab?: boolean;
  backspace?: boolean;
  delete?: boolean;
}

/** One name per key press: "j", "G", "enter", "esc", "tab", "shift+tab", "ctrl+c", "space". */
export function keyName(input: string, key: KeyFlags): string {
  if (key.upArrow) return "up";
  if (key.downArrow) return "down";
  if (key.leftArrow) return "left";
  if (key.rightArrow) return "right";
  if (key.pageUp) return "pgup";
  if (key.pageDown) return "pgdn";
  if (key.home) return "home";
  if (key.end) return "end";
  if (key.return) return "enter";
  if (key.escape) return "esc";
  if (key.tab) return key.shift ? "shift+tab" : "tab";
  if (key.backspace || key.delete) return "backspace";
  if (key.ctrl && input) return `ctrl+${input.toLowerCase()}`;
  if (input === " ") return "space";
  return input;
}

/**
 * The key presses in one read: ink hands typed-ahead or pasted text over in one piece
 * ("jj\r", "secret\r"), so it is split into one press per character, in order.
 */
export function keyPresses(input: string, key: KeyFlags): { name: string; input: string }[] {
  if (input.length <= 1 || key.ctrl || key.escape) return [{ name: keyName(input, key), input }];
  return [...input].map((ch) => {
    if (ch === "\r" || ch === "\n") return { name: "enter", input: "" };
    if (ch === "\t") return { name: "tab", input: "" };
    if (ch === "\x7f" || ch === "\b") return { name: "backspace", input: "" };
    return { name: keyName(ch, {}), input: ch };
  });
}

export const GLOBAL_BINDINGS: readonly Binding[] = [
  { keys: ["?"], action: "help", help: "help (this screen)" },
  { keys: [":"], action: "jump", help: "jump to a view by name (:tasks, :dead…)" },
  { keys: ["tab"], action: "next-view", help: "next view" },
  { keys: ["shift+tab"], action: "previous-view", help: "previous view" },
  {
    keys: ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"],
    action: "view-number",
    help: "view by number (0 is the tenth)",
  },
  { keys: ["esc"], action: "back", help: "back (close the detail, the last view)" },
  { keys: ["q", "ctrl+c"], action: "quit", help: "quit" },
];

export const LIST_BINDINGS: readonly Binding[] = [
  { keys: ["j", "down"], action: "down", help: "down" },
  { keys: ["k", "up"], action: "up", help: "up" },
  { keys: ["pgdn", "ctrl+f"], action: "page-down", help: "page down" },
  { keys: ["pgup", "ctrl+b"], action: "page-up", help: "page up" },
  { keys: ["g", "home"], action: "top", help: "top" },
  { keys: ["G", "end"], action: "bottom", help: "bottom" },
];

export const VIEW_BINDINGS: Readonly<Record<ViewId, readonly Binding[]>> = {
  overview: [{ keys: ["enter"], action: "open", help: "the selected queue's tasks" }],
  queues: [
    { keys: ["enter"], action: "open", help: "the queue's tasks" },
    { keys: ["p"], action: "pause", help: "pause the queue", needs: "operate", confirm: true },
    { keys: ["r"], action: "resume", help: "resume the queue", needs: "operate", confirm: true },
  ],
  tasks: [
    { keys: ["/"], action: "filter", help: "filter: queue:… state:… type:… and words" },
    { keys: ["enter"], action: "open", help: "detail: payload, attempts, progress" },
    { keys: ["r"], action: "retry", help: "retry the task", needs: "operate", confirm: true },
    { keys: ["c"], action: "cancel", help: "cancel the task", needs: "operate", confirm: true },
  ],
  dead: [
    { keys: ["enter"], action: "open", help: "detail" },
    { keys: ["space"], action: "select", help: "select / unselect", needs: "operate" },
    { keys: ["r"], action: "requeue", help: "requeue this one", needs: "operate", confirm: true },
    {
      keys: ["R"],
      action: "requeue-selected",
      help: "requeue the selected",
      needs: "operate",
      confirm: true,
    },
    { keys: ["A"], action: "requeue-all", help: "requeue all", needs: "operate", confirm: true },
    {
      keys: ["d"],
      action: "purge",
      help: "purge the selected (or this one)",
      needs: "operate",
      confirm: true,
    },
    { keys: ["D"], action: "purge-all", help: "purge all", needs: "operate", confirm: true },
  ],
  workers: [
    { keys: ["d"], action: "drain", help: "drain the worker", needs: "operate", confirm: true },
  ],
  alerts: [
    { keys: ["r"], action: "reload", help: "read the rules and alerts again" },
  ],
  suggestions: [
    { keys: ["a"], action: "approve", help: "approve (edit name, type, parent)", needs: "approveTags" },
    { keys: ["m"], action: "map", help: "map onto an existing tag", needs: "approveTags", confirm: true },
    { keys: ["x"], action: "reject", help: "reject with a reason", needs: "approveTags", confirm: true },
  ],
  tree: [
    { keys: ["/"], action: "filter", help: "filter by name" },
    { keys: ["r"], action: "reload", help: "read the tree again" },
  ],
  schedules: [
    { keys: ["p"], action: "pause", help: "pause the schedule", needs: "operate", confirm: true },
    { keys: ["r"], action: "resume", help: "resume the schedule", needs: "operate", confirm: true },
    { keys: ["t"], action: "trigger", help: "trigger: fire it now", needs: "operate", confirm: true },
    { keys: ["d"], action: "delete", help: "delete the schedule", needs: "operate", confirm: true },
  ],
  campaigns: [
    { keys: ["enter"], action: "open", help: "deliveries (failures first)" },
    {
      keys: ["p"],
      action: "pause",
      help: "pause (no new sends; those in flight finish)",
      needs: "manageCampaigns",
      confirm: true,
    },
    {
      keys: ["r"],
      action: "resume",
      help: "resume (from the ledger: no recipient twice)",
      needs: "manageCampaigns",
      confirm: true,
    },
    {
      keys: ["c"],
      action: "cancel",
      help: "cancel for good (unsent deliveries are skipped)",
      needs: "manageCampaigns",
      confirm: true,
    },
  ],
};

const allowed = (caps: Capabilities) => (b: Binding) => b.needs === undefined || caps[b.needs];

/** The bindings a view offers this operator, its own first. */
export function bindingsFor(view: ViewId, caps: Capabilities): Binding[] {
  return VIEW_BINDINGS[view].filter(allowed(caps));
}

/** The view action a key press means here, if any. */
export function viewActionFor(view: ViewId, key: string, caps: Capabilities): Binding | undefined {
  return bindingsFor(view, caps).find((b) => b.keys.includes(key));
}

export function listActionFor(key: string): string | undefined {
  return LIST_BINDINGS.find((b) => b.keys.includes(key))?.action;
}

export function globalActionFor(key: string): string | undefined {
  return GLOBAL_BINDINGS.find((b) => b.keys.includes(key))?.action;
}

/** "p pause the queue · r resume the queue": the hint line under a view. */
export function hintLine(view: ViewId, caps: Capabilities): string {
  return [
    ...bindingsFor(view, caps).map((b) => `${b.keys[0]} ${b.help.split(" (")[0].split(":")[0]}`),
    "? help",
  ]
    .join(" · ");
}
