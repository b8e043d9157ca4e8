/**
 * The tag catalogue as a tree (GetTree, one call), for the tree browser and the
 * parent and map-onto pickers. There is no stream of tag changes, so while a view
 * watches it the tree is read again every TREE_REFRESH_MS (on the TUI's clock), at
 * once after a suggestion is approved or mapped (admins watch those), and after a
 * decision taken here.
 */
import type { Tag, TreeNode } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { type Clients, describeError, UNARY_TIMEOUT_MS } from "./clients.ts";
import { type Clock, systemClock } from "./clock.ts";

/** How often a watched tree is read again. */
export const TREE_REFRESH_MS = 10_000;

export interface TagTreeState {
  nodes: readonly TreeNode[];
  byId: ReadonlyMap<string, Tag>;
  status: "idle" | "loading" | "loaded" | "failed";
  error?: string;
  /** When the tree shown was read (clock ms). */
  loadedAt?: number;
}

const EMPTY: TagTreeState = { nodes: [], byId: new Map(), status: "idle" };

export function treeState(nodes: readonly TreeNode[], loadedAt?: number): TagTreeState {
  const byId = new Map<string, Tag>();
  for (const n of nodes) if (n.tag) byId.set(n.tag.id, n.tag);
  return { nodes, byId, status: "loaded", loadedAt };
}

/** Since when the tree shown may be stale: a read failed after one had succeeded. */
export function treeStaleSince(state: TagTreeState): number | undefined {
  return state.status === "failed" ? state.loadedAt : undefined;
}

/** "Programming › Python › Django": a tag's name after its ancestors'. */
export function tagPath(state: TagTreeState, id: string): string {
  const names: string[] = [];
  const seen = new Set<string>();
  for (let tag = state.byId.get(id); tag && !seen.has(tag.id); tag = state.byId.get(tag.parentId)) {
    seen.add(tag.id);
    names.unshift(tag.name);
  }
  return names.join(" › ");
}

/** Nodes whose name, alias or path contains `text` (any case), in tree order. */
export function filterTree(state: TagTreeState, text: string): TreeNode[] {
  const needle = text.trim().toLowerCase();
  if (!needle) return [...state.nodes];
  return state.nodes.filter((n) =>
    n.tag && (n.tag.name.toLowerCase().includes(needle) ||
      n.tag.aliases.some((a) => a.toLowerCase().includes(needle)) ||
      n.tag.slug.includes(needle))
  );
}

export class TagTreeStore {
  #clients: Clients;
  #state: TagTreeState = EMPTY;
  #listeners = new Set<() => void>();
  #loading: Promise<void> | undefined;
  #clock: Clock;
  #watchers = 0;
  #refresher: AbortController | undefined;

  constructor(clients: Clients, clock: Clock = systemClock) {
    this.#clients = clients;
    this.#clock = clock;
  }

  /** Keeps the tree fresh while at least one watcher is there; returns the unwatch. */
  watch(): () => void {
    this.ensure();
    if (this.#watchers++ === 0) {
      const stop = new AbortController();
      this.#refresher = stop;
      void (async () => {
        while (!stop.signal.aborted) {
          try {
            await this.#clock.sleep(TREE_REFRESH_MS, stop.signal);
          } catch {
            return;
          }
          await this.reload();
        }
      })();
    }
    return () => {
      if (--this.#watchers === 0) this.#refresher?.abort();
    };
  }

  subscribe = (listener: () => void): () => void => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getState = (): TagTreeState => this.#state;

  /** Loads the tree unless it is loaded or loading. */
  ensure(): void {
    if (this.#state.status === "idle") void this.reload();
  }

  reload(): Promise<void> {
    return this.#loading ??= (async () => {
      // A refresh keeps the tree on screen; only the first read shows "loading".
      if (this.#state.status === "idle") this.#set({ ...this.#state, status: "loading" });
      try {
        const { nodes } = await this.#clients.tags.getTree({}, { timeoutMs: UNARY_TIMEOUT_MS });
        this.#set(treeState(nodes, this.#clock.now()));
      } catch (error) {
        this.#set({ ...this.#state, status: "failed", error: describeError(error) });
      } finally {
        this.#loading = undefined;
      }
    })();
  }

  #set(state: TagTreeState): void {
    this.#state = state;
    for (const listener of this.#listeners) listener();
  }
}
