/**
 * Approving a suggestion, with the chance to edit its name, type and parent first
 * (the parent from a picker over the tag tree). Enter approves; esc goes back.
 */
import { Box, Text } from "ink";
import { useEffect, useState, useSyncExternalStore } from "react";
import type { Suggestion, TagType } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { useData, useViewKeys } from "../context.ts";
import type { ApproveEdits } from "../data/actions.ts";
import { gap, TAG_TYPES, tagTypeName } from "../data/format.ts";
import { tagPath } from "../data/tag_tree.ts";
import { TagPicker } from "../components/tag_picker.tsx";
import { editLine, TextField } from "../components/text_input.tsx";

const FIELDS = ["name", "type", "parent"] as const;

export function approveEdits(s: Suggestion, name: string, type: TagType, parentId: string): ApproveEdits {
  const edits: ApproveEdits = {};
  if (name.trim() !== s.name) edits.name = name.trim();
  if (type !== s.type) edits.type = type;
  if (parentId !== s.parentId) edits.parentId = parentId;
  return edits;
}

export function ApproveForm(props: {
  suggestion: Suggestion;
  height: number;
  width: number;
  onSubmit: (edits: ApproveEdits) => void;
  onCancel: () => void;
}) {
  const s = props.suggestion;
  const data = useData();
  const tree = useSyncExternalStore(data.tagTree.subscribe, data.tagTree.getState);
  useEffect(() => data.tagTree.watch(), []);
  const [name, setName] = useState(s.name);
  const [type, setType] = useState<TagType>(s.type);
  const [parentId, setParentId] = useState(s.parentId);
  const [field, setField] = useState(0);
  const [picking, setPicking] = useState(false);

  useViewKeys((key, input) => {
    if (key === "tab" || key === "down") {
      setField((field + 1) % FIELDS.length);
      return true;
    }
    if (key === "shift+tab" || key === "up") {
      setField((field + FIELDS.length - 1) % FIELDS.length);
      return true;
    }
    if (key === "esc") {
      props.onCancel();
      return true;
    }
    if (key === "enter") {
      if (!name.trim()) return true;
      props.onSubmit(approveEdits(s, name, type, parentId));
      return true;
    }
    if (FIELDS[field] === "name") {
      setName(editLine(name, key, input).value);
    } else if (FIELDS[field] === "type" && (key === "left" || key === "right")) {
      const i = TAG_TYPES.indexOf(type);
      setType(TAG_TYPES[(i + (key === "right" ? 1 : TAG_TYPES.length - 1)) % TAG_TYPES.length]);
    } else if (FIELDS[field] === "parent" && (key === "space" || key === "right")) {
      setPicking(true);
    } else if (FIELDS[field] === "parent" && key === "backspace") {
      setParentId("");
    }
    return true;
  });

  if (picking) {
    return (
      <TagPicker
        title={`Parent for ${name}`}
        allowRoot
        height={props.height}
        width={props.width}
        onPick={(id) => {
          setParentId(id);
          setPicking(false);
        }}
        onCancel={() => setPicking(false)}
      />
    );
  }
  const parent = parentId ? tagPath(tree, parentId) || parentId : "(none: a root tag)";
  return (
    <Box flexDirection="column" height={props.height}>
      <Text bold>Approve suggestion “{s.name}”</Text>
      <Text dimColor wrap="truncate-end">
        suggested by {s.suggestedBy.length} · {s.reason ? `“${s.reason}”` : "no reason given"}
      </Text>
      <Text>{gap(1)}</Text>
      <TextField label="Name    " value={name} focused={field === 0} />
      <Text>
        <Text bold={field === 1} color={field === 1 ? "cyan" : undefined}>{"Type".padEnd(8)}</Text>
        ◀ {tagTypeName(type)} ▶
      </Text>
      <Text wrap="truncate-end">
        <Text bold={field === 2} color={field === 2 ? "cyan" : undefined}>{"Parent".padEnd(8)}</Text>
        {parent} <Text dimColor>(space: choose · backspace: none)</Text>
      </Text>
      <Text>{gap(1)}</Text>
      <Text dimColor>tab/↑↓ field · ←→ type · enter approve · esc back</Text>
    </Box>
  );
}
