/**
 * Queues: each queue's figures and limits; pause and resume (each asks first); enter
 * opens the queue's tasks.
 */
import { Box, Text } from "ink";
import { useClockNow, useData, useLive, useStaleSince, useUi, useViewKeys } from "../context.ts";
import { StaleMark } from "../components/stale_mark.tsx";
import { fit, gap, num, rate } from "../data/format.ts";
import { viewActionFor } from "../keys.ts";
import { useListNav } from "../components/list.tsx";
import { QueueTable } from "./queue_table.tsx";
import type { ViewProps } from "./view.ts";

export function QueuesView({ height, width }: ViewProps) {
  const data = useData();
  const ui = useUi();
  const queues = useLive(data.queues);
  const throughput = useLive(data.throughput);
  const now = useClockNow();
  const staleSince = useStaleSince([data.queues, data.throughput]);
  const listHeight = Math.max(3, height - 5);
  const [selected, , nav] = useListNav("queues", queues.queues, (q) => q.name, listHeight);
  const q = queues.queues[selected];

  useViewKeys((key) => {
    if (nav(key)) return true;
    if (!q) return false;
    switch (viewActionFor("queues", key, ui.caps)?.action) {
      case "open":
        ui.jump("tasks", { "tasks.query": `queue:${q.name}` });
        return true;
      case "pause":
        if (q.paused) ui.flash(`queue ${q.name} is already paused`);
        else {
          ui.confirm(
            `Pause queue ${q.name}? Workers get none of its tasks until it is resumed.`,
            () => data.actions.pauseQueue(q.name),
          );
        }
        return true;
      case "resume":
        if (!q.paused) ui.flash(`queue ${q.name} is not paused`);
        else ui.confirm(`Resume queue ${q.name}?`, () => data.actions.resumeQueue(q.name));
        return true;
      default:
        return false;
    }
  });

  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <Text bold>Queues</Text> <Text dimColor>{queues.queues.length}</Text>
        <StaleMark since={staleSince} />
      </Text>
      <QueueTable
        queues={queues}
        throughput={throughput}
        now={now}
        stale={staleSince !== undefined}
        selected={selected}
        height={listHeight}
        width={width}
        empty="no queues yet"
      />
      {q
        ? (
          <Text wrap="truncate-end">
            <Text bold>{fit(q.name, 20)}</Text>{" "}
            {q.paused ? <Text color="yellow">PAUSED</Text> : <Text color="green">running</Text>}
            <Text dimColor>
              {gap(2)}concurrency {q.concurrencyLimit || "∞"} · rate{" "}
              {q.rateLimitPerSecond ? `${rate(q.rateLimitPerSecond)}/s` : "∞"}{" "}
              · workers{num(q.workerCount, 3)}
            </Text>
          </Text>
        )
        : null}
    </Box>
  );
}
