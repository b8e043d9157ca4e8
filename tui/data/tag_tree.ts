/**
 * The tag catalogue as a tree (GetTree, one call), for the tree browser and the
 * parent and map-onto pickers. Not live: it is read when first wanted and again after
 * a decision that changed it.
 */
import type { Tag, TreeNode } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { type Clients, describeError, UNARY_TIMEOUT_MS } from "./clients.ts";

export interface TagTreeState {
  nodes: readonly TreeNode[];
  byId: ReadonlyMap<string, Tag>;
  status: "idle" | "loading" | "loaded" | "failed";
  error?: string;
}

const EMPTY: TagTreeState = { nodes: [], byId: new Map(), status: "idle" };

export function treeState(nodes: readonly TreeNode[]): TagTreeState {
  const byId = new Map<string, Tag>();
  for (const n of nodes) if (n.tag) byId.set(n.tag.id, n.tag);
  return { nodes, byId, status: "loaded" };
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

  constructor(clients: Clients) {
    this.#clients = clients;
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
      this.#set({ ...this.#state, status: "loading" });
      try {
        const { nodes } = await this.#clients.tags.getTree({}, { timeoutMs: UNARY_TIMEOUT_MS });
        this.#set(treeState(nodes));
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
