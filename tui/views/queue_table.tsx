/**
 * The queue table shared by Overview and Queues: depth per state, recent rates, and
 * a trend of tasks succeeded per second on one axis shared by every row, so queues
 * compare at a glance. Narrow terminals get a narrower name column and trend.
 */
import { Box, Text } from "ink";
import { List } from "../components/list.tsx";
import { fit, num, rate, shortDuration } from "../data/format.ts";
import type { QueueRow, QueuesState } from "../data/queues_reducer.ts";
import { sparkline } from "../data/sparkline.ts";
import { okSeries, RATE_WINDOW_MS, recentRates, type Throughput } from "../data/throughput.ts";

/** Everything after the name, before the trend. */
const FIGURES = `${num("WAIT", 5)} ${num("SCHED", 5)} ${num("QUEUED", 6)} ${num("FLIGHT", 6)} ${
  num("DEAD", 5)
} ${num("OK/S", 6)} ${num("FAIL/S", 6)} ${num("WKR", 3)} ${num("OLDEST", 6)}`;

/** The LIMIT column (concurrency·rate) is shown from this many columns on. */
export const LIMIT_MIN_WIDTH = 110;
const LIMIT_CHARS = 11;

/** How wide the name and the trend are at `width` columns, and whether LIMIT fits. */
export function queueColumns(width: number): { name: number; trend: number; limit: boolean } {
  const limit = width >= LIMIT_MIN_WIDTH;
  const rest = width - FIGURES.length - 4 - (limit ? LIMIT_CHARS + 1 : 0);
  const name = Math.max(8, Math.min(18, rest - 6));
  return { name, trend: Math.max(4, Math.min(20, rest - name)), limit };
}

export function queueHeader(width: number): string {
  const columns = queueColumns(width);
  return `${fit("QUEUE", columns.name)} ${FIGURES}${
    columns.limit ? ` ${num("LIMIT", LIMIT_CHARS)}` : ""
  }  TREND`;
}

/** A queue's limits, short: "3" running at once, "20/s" starts, both, or "—" for none. */
export function limitText(q: Pick<QueueRow, "concurrencyLimit" | "rateLimitPerSecond">): string {
  const parts = [];
  if (q.concurrencyLimit > 0) parts.push(String(q.concurrencyLimit));
  if (q.rateLimitPerSecond > 0) parts.push(`${rate(q.rateLimitPerSecond)}/s`);
  return parts.length ? parts.join("·") : "—";
}

/** The scale of the columns that are not plain counts: the table's last line. */
export function ratesCaption(trendSeconds: number, trendMax: number): string {
  const scale = trendMax > 0 ? `█ = ${rate(trendMax)}/s` : "nothing finished";
  return `OK/S FAIL/S: last ${
    RATE_WINDOW_MS / 1000
  } s · TREND: succeeded/s, last ${trendSeconds} s, ${scale}`;
}

export function QueueLine(
  props: {
    q: QueueRow;
    rates: { ok: number; failed: number };
    trend: string;
    selected: boolean;
    name: number;
    limit?: boolean;
    stale?: boolean;
  },
) {
  const { q } = props;
  const line = `${fit(q.name + (q.paused ? " ⏸" : ""), props.name)} ${num(q.waiting, 5)} ${
    num(q.scheduled, 5)
  } ${num(q.queued, 6)} ${num(q.running, 6)} ${num(q.dead, 5)} ${num(rate(props.rates.ok), 6)} ${
    num(rate(props.rates.failed), 6)
  } ${num(q.workerCount, 3)} ${num(q.queued ? shortDuration(q.oldestQueuedMs) : "—", 6)}${
    props.limit ? ` ${num(limitText(q), LIMIT_CHARS)}` : ""
  }  `;
  return (
    <Box>
      <Text
        inverse={props.selected}
        dimColor={props.stale}
        color={q.paused ? "yellow" : q.dead > 0 ? "red" : undefined}
      >
        {line}
      </Text>
      <Text color="green" dimColor={props.stale}>{props.trend}</Text>
    </Box>
  );
}

/** The header and the windowed rows, or a line saying the first snapshot is awaited. */
export function QueueTable(
  props: {
    queues: QueuesState;
    throughput: Throughput;
    now: number;
    selected: number;
    height: number;
    width: number;
    empty: string;
    stale?: boolean;
  },
) {
  const { queues, throughput, now } = props;
  const columns = queueColumns(props.width);
  const series = new Map(
    queues.queues.map((q) => [q.name, okSeries(throughput, q.name, now, columns.trend)]),
  );
  // One axis for every row: the busiest second of any queue shown.
  const trendMax = Math.max(0, ...[...series.values()].flat());
  return (
    <>
      <Text dimColor>{queueHeader(props.width)}</Text>
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
              rates={recentRates(throughput, q.name, now)}
              trend={sparkline(series.get(q.name) ?? [], columns.trend, trendMax)}
              selected={selected}
              name={columns.name}
              limit={columns.limit}
              stale={props.stale}
            />
          )}
        />
      )}
      <Text dimColor wrap="truncate-end">{ratesCaption(columns.trend, trendMax)}</Text>
    </>
  );
}
