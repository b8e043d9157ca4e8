/**
 * The tag approval queue: pending suggestions, oldest first, from WatchSuggestions
 * (EXISTING, SUGGESTED, DECIDED). A decided suggestion leaves the queue. Pure.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  type Suggestion,
  SuggestionEventKind,
  SuggestionStatus,
  type WatchSuggestionsResponse,
} from "../../gen/taskmesh/tags/v1/tags_pb.ts";

export interface SuggestionsState {
  pending: readonly Suggestion[];
  /** Whether the first list has arrived. */
  loaded: boolean;
}

export const EMPTY_SUGGESTIONS: SuggestionsState = { pending: [], loaded: false };

const created = (s: Suggestion) => (s.createTime ? timestampMs(s.createTime) : 0);
const oldestFirst = (a: Suggestion, b: Suggestion) => created(a) - created(b) || a.id.localeCompare(b.id);

export function suggestionsFromList(list: readonly Suggestion[]): SuggestionsState {
  return {
    pending: list.filter((s) => s.status === SuggestionStatus.PENDING).sort(oldestFirst),
    loaded: true,
  };
}

export function reduceSuggestions(
  state: SuggestionsState,
  events: readonly WatchSuggestionsResponse[],
): SuggestionsState {
  const byId = new Map(state.pending.map((s) => [s.id, s]));
  for (const event of events) {
    const s = event.suggestion;
    if (!s) continue;
    const stillPending = event.kind !== SuggestionEventKind.DECIDED && s.status === SuggestionStatus.PENDING;
    if (stillPending) byId.set(s.id, s);
    else byId.delete(s.id);
  }
  return { pending: [...byId.values()].sort(oldestFirst), loaded: true };
}

/** Removes decided suggestions at once, before the stream confirms. */
export function withoutSuggestion(state: SuggestionsState, id: string): SuggestionsState {
  return { ...state, pending: state.pending.filter((s) => s.id !== id) };
}
