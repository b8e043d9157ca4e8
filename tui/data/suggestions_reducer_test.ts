import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  SuggestionEventKind,
  SuggestionSchema,
  SuggestionStatus,
  WatchSuggestionsResponseSchema,
} from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import {
  EMPTY_SUGGESTIONS,
  reduceSuggestions,
  suggestionsFromList,
  withoutSuggestion,
} from "./suggestions_reducer.ts";

const s = (id: string, at: number, status = SuggestionStatus.PENDING, suggestedBy = ["u1"]) =>
  create(SuggestionSchema, { id, name: id, status, createTime: timestampFromMs(at), suggestedBy });
const ev = (kind: SuggestionEventKind, suggestion: ReturnType<typeof s>) =>
  create(WatchSuggestionsResponseSchema, { kind, suggestion });

Deno.test("the approval queue: existing and new pending ones, oldest first; decided ones leave", () => {
  let state = reduceSuggestions(EMPTY_SUGGESTIONS, [
    ev(SuggestionEventKind.EXISTING, s("b", 20)),
    ev(SuggestionEventKind.EXISTING, s("a", 10)),
    ev(SuggestionEventKind.SUGGESTED, s("c", 30)),
  ]);
  assert.deepEqual(state.pending.map((x) => x.id), ["a", "b", "c"]);
  // A merge (a second suggester) updates in place.
  state = reduceSuggestions(state, [
    ev(SuggestionEventKind.SUGGESTED, s("b", 20, SuggestionStatus.PENDING, ["u1", "u2"])),
  ]);
  assert.deepEqual(state.pending[1].suggestedBy, ["u1", "u2"]);
  state = reduceSuggestions(state, [ev(SuggestionEventKind.DECIDED, s("a", 10, SuggestionStatus.APPROVED))]);
  assert.deepEqual(state.pending.map((x) => x.id), ["b", "c"]);
  assert.deepEqual(withoutSuggestion(state, "c").pending.map((x) => x.id), ["b"]);
  // Seen as EXISTING and then again as SUGGESTED (the watch's overlap): still once.
  state = reduceSuggestions(state, [ev(SuggestionEventKind.SUGGESTED, s("c", 30))]);
  assert.deepEqual(state.pending.map((x) => x.id), ["b", "c"]);
});

Deno.test("a list keeps only the pending", () => {
  const state = suggestionsFromList([s("x", 2), s("y", 1, SuggestionStatus.REJECTED), s("z", 1)]);
  assert.deepEqual(state.pending.map((x) => x.id), ["z", "x"]);
  assert.equal(state.loaded, true);
});
