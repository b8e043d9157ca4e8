/**
 * Overview: every queue with its depth per state, in flight, rates and a trend of
 * tasks finished per second; the workers connected; and warnings: the alerts firing
 * (the server's rules, view 8 for more), then what the figures show (work but no
 * worker, dead letters growing…). Enter opens the selected queue's tasks.
 */
import { Box, Text } from "ink";
import { useEffect, useSyncExternalStore } from "react";
import { useClockNow, useData, useLive, useStaleSince, useUi, useViewKeys } from "../context.ts";
import { StaleMark } from "../components/stale_mark.tsx";
import { queueWarnings } from "../data/warnings.ts";
import { gap } from "../data/format.ts";
import { useListNav } from "../components/list.tsx";
import { QueueTable } from "./queue_table.tsx";
import { firingLines } from "./alerts.tsx";
import type { ViewProps } from "./view.ts";

export function OverviewView({ height, width }: ViewProps) {
  const data = useData();
  const ui = useUi();
  const queues = useLive(data.queues);
  const workers = useLive(data.workers);
  const throughput = useLive(data.throughput);
  const now = useClockNow();
  const staleSince = useStaleSince([data.queues, data.workers, data.throughput]);
  const alerts = useSyncExternalStore(data.alerts.subscribe, data.alerts.getState);
  useEffect(() => data.alerts.show(), []);
  const warnings = [
    ...firingLines(alerts.firing, now).map((text) => ({ level: "error" as const, text })),
    ...queueWarnings(queues),
  ];
  const warningRows = Math.min(warnings.length, Math.max(2, Math.floor(height / 3)));
  const listHeight = Math.max(3, height - 6 - Math.max(1, warningRows));
  const [selected, , nav] = useListNav("overview", queues.queues, (q) => q.name, listHeight);
  const stale = staleSince !== undefined;
  const workerCount = queues.workerCount ?? workers.workers.length;
  const busy = workers.workers.reduce((n, w) => n + w.activeTaskIds.length, 0);
  const slots = workers.workers.reduce((n, w) => n + w.concurrency, 0);

  useViewKeys((key) => {
    if (nav(key)) return true;
    const q = queues.queues[selected];
    if (key === "enter" && q) {
      ui.jump("tasks", { "tasks.query": `queue:${q.name}` });
      return true;
    }
    return false;
  });

  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <Text bold dimColor={stale}>Workers connected: {workerCount}</Text>
        <Text dimColor>
          {gap(3)}busy slots {busy}/{slots} · queues {queues.queues.length}
        </Text>
        <StaleMark since={staleSince} />
      </Text>
      <QueueTable
        queues={queues}
        throughput={throughput}
        now={now}
        stale={stale}
        selected={selected}
        height={listHeight}
        width={width}
        empty="no queues yet: enqueue a task to create one"
      />
      <Text bold>Warnings</Text>
      {warnings.length === 0
        ? <Text color="green">all clear</Text>
        : warnings.slice(0, warningRows).map((w) => (
          <Text
            key={w.text}
            color={w.level === "error" ? "red" : "yellow"}
            dimColor={stale}
            wrap="truncate-end"
          >
            {w.level === "error" ? "✖ " : "! "}
            {w.text}
          </Text>
        ))}
      {warnings.length > warningRows ? <Text dimColor>… {warnings.length - warningRows} more</Text> : null}
    </Box>
  );
}
