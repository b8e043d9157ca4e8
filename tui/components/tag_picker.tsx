/**
 * Picks a tag from the tree: typing filters by name or alias, arrows move, enter
 * picks, esc goes back. Used for an approval's parent and for mapping onto a tag.
 */
import { Box, Text } from "ink";
import { useEffect, useState, useSyncExternalStore } from "react";
import { useData, useViewKeys } from "../context.ts";
import { fit, tagTypeName } from "../data/format.ts";
import { filterTree } from "../data/tag_tree.ts";
import { clampIndex } from "../data/window.ts";
import { List } from "./list.tsx";
import { editLine, TextField } from "./text_input.tsx";

/** The picker's answer for "no parent". */
export const ROOT = "";

interface Choice {
  id: string;
  label: string;
}

export function TagPicker(props: {
  title: string;
  allowRoot?: boolean;
  height: number;
  width: number;
  onPick: (id: string, name: string) => void;
  onCancel: () => void;
}) {
  const data = useData();
  const tree = useSyncExternalStore(data.tagTree.subscribe, data.tagTree.getState);
  useEffect(() => data.tagTree.watch(), []);
  const [filter, setFilter] = useState("");
  const [selected, setSelected] = useState(0);
  const choices: Choice[] = [
    ...(props.allowRoot ? [{ id: ROOT, label: "(none: a root tag)" }] : []),
    ...filterTree(tree, filter).map((n) => ({
      id: n.tag!.id,
      label: `${"  ".repeat(filter ? 0 : n.depth)}${n.tag!.name}  [${tagTypeName(n.tag!.type)}]`,
    })),
  ];
  const sel = clampIndex(selected, choices.length);
  const rows = Math.max(3, props.height - 3);

  useViewKeys((key, input) => {
    switch (key) {
      case "down":
        setSelected(clampIndex(sel + 1, choices.length));
        return true;
      case "up":
        setSelected(clampIndex(sel - 1, choices.length));
        return true;
      case "pgdn":
        setSelected(clampIndex(sel + rows - 1, choices.length));
        return true;
      case "pgup":
        setSelected(clampIndex(sel - rows + 1, choices.length));
        return true;
      case "enter": {
        const choice = choices[sel];
        if (choice) props.onPick(choice.id, choice.id ? tree.byId.get(choice.id)?.name ?? "" : "");
        return true;
      }
      case "esc":
        props.onCancel();
        return true;
      default: {
        const edit = editLine(filter, key, input);
        if (edit.value !== filter) {
          setFilter(edit.value);
          setSelected(0);
        }
        return true;
      }
    }
  });

  return (
    <Box flexDirection="column" height={props.height}>
      <Text bold>{props.title}</Text>
      <TextField
        label="find: "
        value={filter}
        focused
        placeholder="type to filter · ↑↓ move · enter pick · esc back"
      />
      {tree.status === "loading" && tree.nodes.length === 0
        ? <Text dimColor>reading the tag tree…</Text>
        : (
          <List
            items={choices}
            selected={sel}
            height={rows}
            keyOf={(c) => c.id || "(root)"}
            empty={tree.status === "failed" ? `could not read the tree: ${tree.error}` : "no tag matches"}
            row={(c, _i, isSel) => <Text inverse={isSel}>{fit(c.label, props.width - 2).trimEnd()}</Text>}
          />
        )}
    </Box>
  );
}
