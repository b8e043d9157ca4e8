/**
 * Workers: state, queues, active tasks, how busy, heartbeat age, version; drain asks
 * first.
 *
 * BUSY is ACTIVE over concurrency: both come from the leases the server holds for the
 * worker now. The load a worker reports rides on its heartbeats (the TypeScript worker
 * sends busy slots / concurrency, another may send CPU), so between beats it lags the
 * tasks assigned and finished since: shown as a bar it contradicted ACTIVE. It is shown
 * apart, as HB LOAD, where the terminal is wide enough.
 */
import { Box, Text } from "ink";
import { type WorkerInfo, WorkerState } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { useConnection, useData, useLive, useNow, useStaleSince, useUi, useViewKeys } from "../context.ts";
import { StaleMark } from "../components/stale_mark.tsx";
import { age, fit, num, workerStateName } from "../data/format.ts";
import { bar } from "../data/sparkline.ts";
import { viewActionFor } from "../keys.ts";
import { List, useListNav } from "../components/list.tsx";
import type { ViewProps } from "./view.ts";

/** Column widths at `width` columns: the fixed ones take 42 (49 more with HB LOAD). */
export function workerColumns(width: number) {
  const wide = width >= 110;
  const avail = width - 42 - (wide ? 10 : 0);
  return {
    worker: Math.min(26, Math.max(12, Math.floor(avail * 0.42))),
    queues: Math.min(20, Math.max(8, Math.floor(avail * 0.32))),
    bar: wide ? 8 : 6,
    reported: wide,
  };
}

function header(width: number): string {
  const c = workerColumns(width);
  return `${fit("WORKER", c.worker)} ${fit("STATE", 8)} ${fit("QUEUES", c.queues)} ${num("ACTIVE", 6)} ${
    fit("BUSY", c.bar + 5)
  }${c.reported ? ` ${num("HB LOAD", 7)}  ` : " "}${num("BEAT", 5)} ${num("UP", 6)} VERSION`;
}

const COLORS: Partial<Record<WorkerState, string>> = {
  [WorkerState.ACTIVE]: "green",
  [WorkerState.DRAINING]: "yellow",
  [WorkerState.SILENT]: "red",
};

/**
 * An active worker's heartbeat age as of the last snapshot (the stream sends none for a
 * heartbeat alone, and the server would have said SILENT had the beats stopped); any
 * other worker's keeps counting.
 */
function beatAge(w: WorkerInfo, receivedAt: number, now: number): string {
  return age(w.lastHeartbeatTime, w.state === WorkerState.ACTIVE ? receivedAt : now);
}

export function WorkersView({ height, width }: ViewProps) {
  const data = useData();
  const ui = useUi();
  const now = useNow();
  const { workers, receivedAt } = useLive(data.workers);
  const connection = useConnection(data.workers);
  const staleSince = useStaleSince([data.workers]);
  const c = workerColumns(width);
  const listHeight = Math.max(3, height - 2);
  const [selected, , nav] = useListNav("workers", workers, (w) => w.id, listHeight);
  const current = workers[selected];

  useViewKeys((key) => {
    if (nav(key)) return true;
    if (!current) return false;
    if (viewActionFor("workers", key, ui.caps)?.action === "drain") {
      if (current.state === WorkerState.DRAINING) ui.flash(`worker ${current.id} is already draining`);
      else {
        ui.confirm(
          `Drain worker ${current.id}? It finishes its ${current.activeTaskIds.length} tasks, takes no new ones and disconnects.`,
          () => data.actions.drainWorker(current.id),
        );
      }
      return true;
    }
    return false;
  });

  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <Text bold>Workers</Text> <Text dimColor>{workers.length} connected</Text>
        <StaleMark since={staleSince} />
      </Text>
      <Text dimColor wrap="truncate-end">{header(width)}</Text>
      <List
        items={workers}
        selected={selected}
        height={listHeight}
        keyOf={(w) => w.id}
        empty={connection.kind === "live" ? "no worker is connected" : "reading workers…"}
        row={(w, _i, sel) => {
          const busy = w.concurrency > 0 ? w.activeTaskIds.length / w.concurrency : 0;
          return (
            <Text inverse={sel} dimColor={staleSince !== undefined} wrap="truncate-end">
              {fit(w.id, c.worker)} <Text color={COLORS[w.state]}>{fit(workerStateName(w.state), 8)}</Text>
              {" "}
              {fit(w.queues.join(","), c.queues)} {num(`${w.activeTaskIds.length}/${w.concurrency}`, 6)}{" "}
              {bar(busy, c.bar)} {num(`${Math.round(busy * 100)}%`, 4)}
              {c.reported ? ` ${num(`${Math.round(w.load * 100)}%`, 7)}  ` : " "}
              {num(beatAge(w, receivedAt, now), 5)} {num(age(w.connectTime, now), 6)} {w.version}
            </Text>
          );
        }}
      />
    </Box>
  );
}
