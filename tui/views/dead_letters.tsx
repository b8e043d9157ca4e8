/**
 * Dead letters: tasks that failed for good, most recently dead first. Requeue one,
 * the selected, or all; purge the selected (or this one) or all. Each asks first.
 */
import { Box, Text } from "ink";
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
import { age, fit, gap, num } from "../data/format.ts";
import { viewActionFor } from "../keys.ts";
import { List, useListNav } from "../components/list.tsx";
import { TaskDetail } from "./task_detail.tsx";
import { taskAction } from "./tasks.tsx";
import type { ViewProps } from "./view.ts";

const HEADER = `  ${fit("ID", 9)} ${fit("QUEUE", 14)} ${fit("TYPE", 22)} ${num("TRY", 4)} ${
  num("DIED", 7)
}  LAST ERROR`;

export function DeadLettersView({ height, width }: ViewProps) {
  const data = useData();
  const ui = useUi();
  const now = useNow();
  const list = useLive(data.deadLetters);
  const connection = useConnection(data.deadLetters);
  const staleSince = useStaleSince([data.deadLetters]);
  const [marked, setMarked] = useRemembered<ReadonlySet<string>>("dead.marked", new Set());
  const [detail, setDetail] = useRemembered<string | undefined>("dead.detail", undefined);
  const listHeight = Math.max(3, height - 2);
  const [selected, , nav] = useListNav("dead", list.tasks, (t) => t.id, listHeight);
  const current = list.tasks[selected];
  // Marks of tasks that left the list (requeued elsewhere) no longer count.
  const chosen = list.tasks.filter((t) => marked.has(t.id));
  const queuesWithDead = [...new Set(list.tasks.map((t) => t.spec?.queue ?? "default"))];
  const purged = (ids: Set<string>) => {
    setMarked(new Set([...marked].filter((id) => !ids.has(id))));
    // No stream reports a purge: take them out here.
    data.deadLetters.update((s) => ({ ...s, tasks: s.tasks.filter((t) => !ids.has(t.id)) }));
  };

  useViewKeys((key) => {
    const action = viewActionFor("dead", key, ui.caps)?.action;
    if (detail) {
      if (key === "esc") {
        setDetail(undefined);
        return true;
      }
      const task = list.tasks.find((t) => t.id === detail);
      return task ? taskAction(action === "requeue" ? "retry" : undefined, task, ui, data) : false;
    }
    if (nav(key)) return true;
    const targets = chosen.length ? chosen : current ? [current] : [];
    const ids = targets.map((t) => t.id);
    switch (action) {
      case "open":
        if (current) setDetail(current.id);
        return true;
      case "select":
        if (current) {
          const next = new Set(marked);
          if (next.has(current.id)) next.delete(current.id);
          else next.add(current.id);
          setMarked(next);
        }
        return true;
      case "requeue":
        if (current) {
          ui.confirm(
            `Requeue dead letter ${current.id.slice(0, 8)} (${current.spec?.type})?`,
            () => data.actions.requeueDead([current.id]),
          );
        }
        return true;
      case "requeue-selected":
        if (!chosen.length) ui.flash("nothing selected: space selects a dead letter", "error");
        else {
          ui.confirm(`Requeue ${chosen.length} selected dead letters?`, async () => {
            const said = await data.actions.requeueDead(chosen.map((t) => t.id));
            setMarked(new Set());
            return said;
          });
        }
        return true;
      case "requeue-all":
        if (queuesWithDead.length && list.tasks.length) {
          ui.confirm(
            `Requeue ALL dead letters of ${queuesWithDead.join(", ")}?`,
            () => data.actions.requeueAllDead(queuesWithDead),
          );
        }
        return true;
      case "purge":
        if (ids.length) {
          ui.confirm(`Purge ${ids.length} dead letter${ids.length === 1 ? "" : "s"} for good?`, async () => {
            const said = await data.actions.purgeDead(ids);
            purged(new Set(ids));
            return said;
          });
        }
        return true;
      case "purge-all":
        if (queuesWithDead.length && list.tasks.length) {
          ui.confirm(`Purge ALL dead letters of ${queuesWithDead.join(", ")} for good?`, async () => {
            const said = await data.actions.purgeAllDead(queuesWithDead);
            data.deadLetters.restart();
            setMarked(new Set());
            return said;
          });
        }
        return true;
      default:
        return false;
    }
  });

  if (detail) {
    return (
      <TaskDetail
        id={detail}
        live={list.tasks.find((t) => t.id === detail)}
        height={height}
        width={width}
        now={now}
        staleSince={staleSince}
      />
    );
  }
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <Text bold>Dead letters</Text> <Text dimColor>{list.tasks.length}{list.truncated ? "+" : ""}</Text>
        {chosen.length ? <Text color="cyan">{gap(2)}{chosen.length} selected</Text> : null}
        <StaleMark since={staleSince} />
      </Text>
      <Text dimColor wrap="truncate-end">{HEADER}</Text>
      <List
        items={list.tasks}
        selected={selected}
        height={listHeight}
        keyOf={(t) => t.id}
        empty={connection.kind === "live" ? "no dead letters" : "reading dead letters…"}
        row={(t, _i, sel) => (
          <Text inverse={sel} dimColor={staleSince !== undefined} wrap="truncate-end">
            {marked.has(t.id) ? "● " : "  "}
            {fit(t.id.slice(0, 8), 9)} {fit(t.spec?.queue ?? "", 14)} {fit(t.spec?.type ?? "", 22)}{" "}
            {num(t.attemptCount, 4)} {num(age(t.updateTime, now), 7)}
            {gap(2)}
            <Text color="red">{fit(t.lastError?.message ?? "", Math.max(4, width - 67)).trimEnd()}</Text>
          </Text>
        )}
      />
    </Box>
  );
}
