/**
 * Tag approval: pending suggestions arrive live (WatchSuggestions). Approve (editing
 * name, type and parent), map onto an existing tag, or reject with a reason.
 */
import { Box, Text } from "ink";
import { useEffect, useState, useSyncExternalStore } from "react";
import type { Suggestion } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import type { LiveStore } from "../data/live_store.ts";
import { useData, useLive, useNow, useStaleSince, useUi, useViewKeys } from "../context.ts";
import { StaleMark } from "../components/stale_mark.tsx";
import { age, fit, num, tagTypeName } from "../data/format.ts";
import { type SuggestionsState, withoutSuggestion } from "../data/suggestions_reducer.ts";
import { tagPath } from "../data/tag_tree.ts";
import { viewActionFor } from "../keys.ts";
import { List, useListNav } from "../components/list.tsx";
import { TagPicker } from "../components/tag_picker.tsx";
import { editLine, TextField } from "../components/text_input.tsx";
import { ApproveForm } from "./approve_form.tsx";
import type { ViewProps } from "./view.ts";

type Mode = { kind: "list" } | { kind: "approve" | "map"; s: Suggestion } | {
  kind: "reject";
  s: Suggestion;
  reason: string;
};

/** NAME and PARENT share what the fixed columns (and 10 for REASON) leave, at most 24 each. */
const nameWidth = (width: number) => Math.max(10, Math.min(24, Math.floor((width - 40) / 2)));

const header = (width: number) =>
  `${fit("NAME", nameWidth(width))} ${fit("TYPE", 12)} ${fit("PARENT", nameWidth(width))} ${num("BY", 3)} ${
    num("AGE", 7)
  }  REASON`;

export function SuggestionsView(props: ViewProps) {
  const data = useData();
  if (!data.suggestions) {
    return (
      <Text color="yellow">
        Tag approval is for admins: sign in as an admin (API keys cannot approve) to see pending suggestions.
      </Text>
    );
  }
  return <ApprovalQueue {...props} store={data.suggestions} />;
}

function ApprovalQueue(
  { height, width, store }: ViewProps & { store: LiveStore<SuggestionsState, unknown> },
) {
  const data = useData();
  const ui = useUi();
  const now = useNow();
  const { pending, loaded } = useLive(store);
  const staleSince = useStaleSince([store]);
  const nw = nameWidth(width);
  const tree = useSyncExternalStore(data.tagTree.subscribe, data.tagTree.getState);
  useEffect(() => data.tagTree.watch(), []);
  const [mode, setMode] = useState<Mode>({ kind: "list" });
  const listHeight = Math.max(3, height - 3);
  const [selected, , nav] = useListNav("suggestions", pending, (s) => s.id, listHeight);
  const current = pending[selected];
  const decided = (s: Suggestion, changedTree: boolean) => {
    store.update((state) => withoutSuggestion(state, s.id));
    if (changedTree) void data.tagTree.reload();
  };

  useViewKeys((key, input) => {
    if (mode.kind === "reject") {
      const edit = editLine(mode.reason, key, input);
      if (edit.done === "cancel") setMode({ kind: "list" });
      else if (edit.done === "submit") {
        const reason = edit.value.trim();
        if (!reason) ui.flash("a rejection needs a reason", "error");
        else {
          setMode({ kind: "list" });
          ui.confirm(`Reject “${mode.s.name}” because “${reason}”?`, async () => {
            const said = await data.actions.rejectSuggestion(mode.s.id, reason);
            decided(mode.s, false);
            return said;
          });
        }
      } else setMode({ ...mode, reason: edit.value });
      return true;
    }
    if (nav(key)) return true;
    if (!current) return false;
    switch (viewActionFor("suggestions", key, ui.caps)?.action) {
      case "approve":
        setMode({ kind: "approve", s: current });
        return true;
      case "map":
        setMode({ kind: "map", s: current });
        return true;
      case "reject":
        setMode({ kind: "reject", s: current, reason: "" });
        return true;
      default:
        return false;
    }
  });

  if (mode.kind === "approve") {
    const s = mode.s;
    return (
      <ApproveForm
        suggestion={s}
        height={height}
        width={width}
        onCancel={() => setMode({ kind: "list" })}
        onSubmit={(edits) => {
          setMode({ kind: "list" });
          void ui.run(async () => {
            const said = await data.actions.approveSuggestion(s.id, edits);
            decided(s, true);
            return said;
          });
        }}
      />
    );
  }
  if (mode.kind === "map") {
    const s = mode.s;
    return (
      <TagPicker
        title={`Map “${s.name}” onto which tag? (it becomes an alias)`}
        height={height}
        width={width}
        onCancel={() => setMode({ kind: "list" })}
        onPick={(tagId, tagName) => {
          setMode({ kind: "list" });
          ui.confirm(
            `Map “${s.name}” onto ${tagName}? “${s.name}” becomes an alias of ${tagName}.`,
            async () => {
              const said = await data.actions.mapSuggestion(s.id, tagId, tagName);
              decided(s, true);
              return said;
            },
          );
        }}
      />
    );
  }
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <Text bold>Tag approval</Text> <Text dimColor>{pending.length} pending</Text>
        <StaleMark since={staleSince} />
      </Text>
      {mode.kind === "reject"
        ? <TextField label={`Reject “${mode.s.name}”, reason: `} value={mode.reason} focused />
        : <Text dimColor wrap="truncate-end">{header(width)}</Text>}
      <List
        items={pending}
        selected={selected}
        height={listHeight}
        keyOf={(s) => s.id}
        empty={loaded ? "no pending suggestions" : "reading suggestions…"}
        row={(s, _i, sel) => (
          <Text inverse={sel} dimColor={staleSince !== undefined} wrap="truncate-end">
            {fit(s.name, nw)} {fit(tagTypeName(s.type), 12)}{" "}
            {fit(s.parentId ? tagPath(tree, s.parentId) || "?" : "—", nw)} {num(s.suggestedBy.length, 3)}{" "}
            {num(age(s.createTime, now), 7)} {fit(s.reason, Math.max(4, width - 30 - 2 * nw)).trimEnd()}
          </Text>
        )}
      />
    </Box>
  );
}
