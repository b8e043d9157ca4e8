/** The queue table shared by Overview and Queues: depth per state, rates, limits, trend. */
import { Box, Text } from "ink";
import { List } from "../components/list.tsx";
import { fit, num, rate, shortDuration } from "../data/format.ts";
import type { QueueHistory, QueueRow, QueuesState } from "../data/queues_reducer.ts";
import { sparkline } from "../data/sparkline.ts";

export const QUEUE_HEADER = `${fit("QUEUE", 18)} ${num("WAIT", 6)} ${num("SCHED", 6)} ${num("QUEUED", 7)} ${
  num("FLIGHT", 7)
} ${num("DEAD", 6)} ${num("OK/S", 6)} ${num("FAIL/S", 6)} ${num("WKR", 4)} ${num("OLDEST", 7)} ${
  num("LIMIT", 11)
}  TREND`;

/** A queue's limits, short: "3" running at once, "20/s" starts, both, or "—" for none. */
export function limitText(q: Pick<QueueRow, "concurrencyLimit" | "rateLimitPerSecond">): string {
  const parts = [];
  if (q.concurrencyLimit > 0) parts.push(String(q.concurrencyLimit));
  if (q.rateLimitPerSecond > 0) parts.push(`${rate(q.rateLimitPerSecond)}/s`);
  return parts.length ? parts.join("·") : "—";
}

export function QueueLine(
  props: { q: QueueRow; history?: QueueHistory; selected: boolean; trendWidth: number },
) {
  const { q } = props;
  const line = `${fit(q.name + (q.paused ? " ⏸" : ""), 18)} ${num(q.waiting, 6)} ${num(q.scheduled, 6)} ${
    num(q.queued, 7)
  } ${num(q.running, 7)} ${num(q.dead, 6)} ${num(rate(q.processedPerSecond), 6)} ${
    num(rate(q.failedPerSecond), 6)
  } ${num(q.workerCount, 4)} ${num(q.queued ? shortDuration(q.oldestQueuedMs) : "—", 7)} ${
    num(limitText(q), 11)
  }  `;
  const trend = sparkline(props.history?.processed ?? [], props.trendWidth);
  return (
    <Box>
      <Text inverse={props.selected} color={q.paused ? "yellow" : q.dead > 0 ? "red" : undefined}>
        {line}
      </Text>
      <Text color="green">{trend}</Text>
    </Box>
  );
}

/** The header and the windowed rows, or a line saying the first snapshot is awaited. */
export function QueueTable(
  props: { queues: QueuesState; selected: number; height: number; width: number; empty: string },
) {
  const { queues } = props;
  return (
    <>
      <Text dimColor>{QUEUE_HEADER}</Text>
      {queues.snapshots === 0 ? <Text dimColor>waiting for the first queue snapshot…</Text> : (
        <List
          items={queues.queues}
          selected={props.selected}
          height={props.height}
          keyOf={(q) => q.name}
          empty={props.empty}
          row={(q, _i, selected) => (
            <QueueLine
              q={q}
              history={queues.history[q.name]}
              selected={selected}
              trendWidth={Math.max(5, Math.min(20, props.width - 100))}
            />
          )}
        />
      )}
    </>
  );
}
