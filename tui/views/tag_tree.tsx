/** The tag tree browser: the whole catalogue, indented; `/` filters; enter shows a tag. */
import { Box, Text } from "ink";
import { useEffect, useState, useSyncExternalStore } from "react";
import { useData, useRemembered, useUi, useViewKeys } from "../context.ts";
import { clock, fit, gap, tagTypeName } from "../data/format.ts";
import { filterTree, tagPath, treeStaleSince } from "../data/tag_tree.ts";
import { StaleMark } from "../components/stale_mark.tsx";
import { viewActionFor } from "../keys.ts";
import { List, useListNav } from "../components/list.tsx";
import { editLine, TextField } from "../components/text_input.tsx";
import type { ViewProps } from "./view.ts";

export function TagTreeView({ height, width }: ViewProps) {
  const data = useData();
  const ui = useUi();
  const tree = useSyncExternalStore(data.tagTree.subscribe, data.tagTree.getState);
  useEffect(() => data.tagTree.watch(), []);
  // An admin's approvals stream says when a suggestion became a tag: the tree is read again then.
  useEffect(() => data.suggestions?.start(), []);
  const [filter, setFilter] = useRemembered("tree.filter", "");
  const [draft, setDraft] = useState<string | undefined>(undefined);
  const [open, setOpen] = useState(false);
  const nodes = filterTree(tree, draft ?? filter);
  const detailRows = open ? 5 : 0;
  const listHeight = Math.max(3, height - 2 - detailRows);
  const [selected, , nav] = useListNav("tree", nodes, (n) => n.tag?.id ?? "", listHeight);
  const tag = nodes[selected]?.tag;
  const staleSince = treeStaleSince(tree);

  useViewKeys((key, input) => {
    if (draft !== undefined) {
      const edit = editLine(draft, key, input);
      if (edit.done === "cancel") setDraft(undefined);
      else if (edit.done === "submit") {
        setFilter(edit.value);
        setDraft(undefined);
      } else setDraft(edit.value);
      return true;
    }
    if (nav(key)) return true;
    if (key === "enter") {
      setOpen(!open);
      return true;
    }
    if (key === "esc" && (open || filter)) {
      if (open) setOpen(false);
      else setFilter("");
      return true;
    }
    switch (viewActionFor("tree", key, ui.caps)?.action) {
      case "filter":
        setDraft(filter);
        return true;
      case "reload":
        void data.tagTree.reload();
        return true;
      default:
        return false;
    }
  });

  return (
    <Box flexDirection="column" height={height}>
      {draft !== undefined
        ? <TextField label="/" value={draft} focused placeholder="name or alias" />
        : (
          <Text wrap="truncate-end">
            <Text bold>Tag tree</Text> <Text dimColor>{tree.nodes.length} tags</Text>
            {filter ? <Text color="cyan">{gap(2)}filter: {filter}</Text> : null}
            <StaleMark since={staleSince} />
            {tree.status === "failed" ? <Text color="red">{gap(2)}{tree.error}</Text> : null}
          </Text>
        )}
      <List
        items={nodes}
        selected={selected}
        height={listHeight}
        keyOf={(n) => n.tag?.id ?? ""}
        empty={tree.status === "loading" ? "reading the tag tree…" : "no tags"}
        row={(n, _i, sel) => (
          <Text inverse={sel} dimColor={staleSince !== undefined} wrap="truncate-end">
            {fit(
              `${"  ".repeat(filter ? 0 : n.depth)}${n.childCount ? "▸ " : "  "}${n.tag?.name}  [${
                tagTypeName(n.tag?.type ?? 0)
              }]${n.childCount ? ` ${n.childCount}` : ""}`,
              width - 2,
            ).trimEnd()}
          </Text>
        )}
      />
      {open && tag
        ? (
          <Box flexDirection="column" borderStyle="single" borderColor="gray">
            <Text wrap="truncate-end">
              <Text bold>{tagPath(tree, tag.id)}</Text> <Text dimColor>{tag.slug} · {tag.id}</Text>
            </Text>
            <Text dimColor wrap="truncate-end">
              aliases: {tag.aliases.join(", ") || "none"} · created {clock(tag.createTime)}
            </Text>
            <Text>{fit(tag.description || "(no description)", width - 4).trimEnd()}</Text>
          </Box>
        )
        : null}
    </Box>
  );
}
