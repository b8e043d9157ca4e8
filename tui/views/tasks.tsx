/**
 * Tasks: the newest tasks (up to 10,000, windowed), filtered with `/` by queue, state,
 * type and words; enter opens the detail pane; retry and cancel ask first.
 */
import { Box, Text } from "ink";
import { memo, useEffect, useMemo, useState } from "react";
import type { Task } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { TaskState } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import {
  useConnection,
  useData,
  useLive,
  useNow,
  useRemembered,
  useStaleSince,
  useUi,
  useViewKeys,
} from "../context.ts";
import { StaleMark } from "../components/stale_mark.tsx";
import { age, fit, gap, num, stateName } from "../data/format.ts";
import { matchesServerPart, matchesWords, parseTaskQuery, serverPartChanged } from "../data/task_filter.ts";
import { viewActionFor } from "../keys.ts";
import { List, useListNav } from "../components/list.tsx";
import { editLine, TextField } from "../components/text_input.tsx";
import { stateColor, TaskDetail } from "./task_detail.tsx";
import type { ViewProps } from "./view.ts";

const RETRYABLE = new Set([TaskState.FAILED, TaskState.DEAD, TaskState.CANCELLED]);
const CANCELLABLE = new Set([TaskState.WAITING, TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING]);

/** The TYPE column's width: what 80 columns leave, at most 22. */
const typeWidth = (width: number) => Math.max(10, Math.min(22, width - 58));

export const taskHeader = (width: number) =>
  `${fit("ID", 9)} ${fit("QUEUE", 14)} ${fit("TYPE", typeWidth(width))} ${fit("STATE", 10)} ${
    num("TRY", 4)
  } ${num("AGE", 7)}  DONE`;

/** One row; memoised, so moving the selection re-renders two rows, not the window. */
export const TaskLine = memo(function TaskLine(
  { task, selected, now, width, stale }: {
    task: Task;
    selected: boolean;
    now: number;
    width: number;
    stale: boolean;
  },
) {
  const p = task.progress?.percent;
  return (
    <Text inverse={selected} dimColor={stale} wrap="truncate-end">
      {fit(task.id.slice(0, 8), 9)} {fit(task.spec?.queue ?? "", 14)}{" "}
      {fit(task.spec?.type ?? "", typeWidth(width))}{" "}
      <Text color={stateColor(task.state)}>{fit(stateName(task.state), 10)}</Text> {num(task.attemptCount, 4)}
      {" "}
      {num(age(task.createTime, now), 7)}{" "}
      {task.state === TaskState.RUNNING && p !== undefined ? `${p.toFixed(0)}%` : ""}
    </Text>
  );
});

/** Retry and cancel, each asking first; shared with the dead letters' detail. */
export function taskAction(
  action: string | undefined,
  task: Task,
  ui: ReturnType<typeof useUi>,
  data: ReturnType<typeof useData>,
): boolean {
  const short = task.id.slice(0, 8);
  if (action === "retry") {
    if (!RETRYABLE.has(task.state)) {
      ui.flash(
        `task ${short} is ${stateName(task.state)}: only failed, dead or cancelled tasks can be retried`,
        "error",
      );
    } else ui.confirm(`Retry task ${short} (${task.spec?.type})?`, () => data.actions.retryTask(task.id));
    return true;
  }
  if (action === "cancel") {
    if (!CANCELLABLE.has(task.state)) {
      ui.flash(`task ${short} is ${stateName(task.state)}: it can no longer be cancelled`, "error");
    } else ui.confirm(`Cancel task ${short} (${task.spec?.type})?`, () => data.actions.cancelTask(task.id));
    return true;
  }
  return false;
}

export function TasksView({ height, width }: ViewProps) {
  const data = useData();
  const ui = useUi();
  const now = useNow();
  const list = useLive(data.tasks);
  const connection = useConnection(data.tasks);
  const staleSince = useStaleSince([data.tasks]);
  const [queryText, setQueryText] = useRemembered("tasks.query", "");
  const [draft, setDraft] = useState<string | undefined>(undefined);
  const [detail, setDetail] = useRemembered<string | undefined>("tasks.detail", undefined);
  const parsed = parseTaskQuery(queryText);
  const query = parsed.ok ? parsed.query : { words: [] };
  useEffect(() => {
    if (serverPartChanged(data.taskQuery(), query)) data.setTaskQuery(query);
  }, [query.queue, query.state, query.type]);
  // The server part is applied here too: until the new list arrives, the old one is filtered.
  const shown = useMemo(
    () =>
      queryText
        ? list.tasks.filter((t) => matchesServerPart(t, query) && matchesWords(t, query.words))
        : list.tasks,
    [list.tasks, queryText],
  );
  const listHeight = Math.max(3, height - 2);
  const [selected, , nav] = useListNav("tasks", shown, (t) => t.id, listHeight);
  const current = shown[selected];
  const detailTask = detail ? list.tasks.find((t) => t.id === detail) : undefined;

  useViewKeys((key, input) => {
    if (draft !== undefined) {
      const edit = editLine(draft, key, input);
      if (edit.done === "cancel") setDraft(undefined);
      else if (edit.done === "submit") {
        const next = parseTaskQuery(edit.value);
        if (!next.ok) ui.flash(next.error, "error");
        else {
          setQueryText(edit.value.trim());
          setDraft(undefined);
        }
      } else setDraft(edit.value);
      return true;
    }
    const action = viewActionFor("tasks", key, ui.caps)?.action;
    if (detail) {
      if (key === "esc") {
        setDetail(undefined);
        return true;
      }
      const task = detailTask ?? current;
      return task ? taskAction(action, task, ui, data) : false;
    }
    if (nav(key)) return true;
    if (action === "filter") {
      setDraft(queryText);
      return true;
    }
    if (key === "esc" && queryText) {
      setQueryText("");
      return true;
    }
    if (!current) return false;
    if (action === "open") {
      setDetail(current.id);
      return true;
    }
    return taskAction(action, current, ui, data);
  });

  if (detail) {
    return (
      <TaskDetail
        id={detail}
        live={detailTask}
        height={height}
        width={width}
        now={now}
        staleSince={staleSince}
      />
    );
  }
  const counts = `${shown.length}${shown.length !== list.tasks.length ? ` of ${list.tasks.length}` : ""}${
    list.truncated ? ` (newest ${list.tasks.length} listed)` : ""
  }`;
  return (
    <Box flexDirection="column" height={height}>
      {draft !== undefined
        ? <TextField label="/" value={draft} focused placeholder="queue:… state:… type:… words" />
        : (
          <Text wrap="truncate-end">
            <Text bold>Tasks</Text> <Text dimColor>{counts}</Text>
            {queryText
              ? <Text color="cyan">{gap(2)}filter: {queryText}</Text>
              : <Text dimColor>{gap(2)}/ to filter</Text>}
            <StaleMark since={staleSince} />
          </Text>
        )}
      <Text dimColor>{taskHeader(width)}</Text>
      <List
        items={shown}
        selected={selected}
        height={listHeight}
        keyOf={(t) => t.id}
        empty={connection.kind === "live" ? "no tasks match" : "reading tasks…"}
        row={(t, _i, sel) => (
          <TaskLine task={t} selected={sel} now={now} width={width} stale={staleSince !== undefined} />
        )}
      />
    </Box>
  );
}
