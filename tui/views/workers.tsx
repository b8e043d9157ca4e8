/** Workers: state, queues, active tasks, load, heartbeat age, version; drain asks first. */
import { Box, Text } from "ink";
import { type WorkerInfo, WorkerState } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { useConnection, useData, useLive, useNow, useUi, useViewKeys } from "../context.ts";
import { age, fit, num, workerStateName } from "../data/format.ts";
import { bar } from "../data/sparkline.ts";
import { viewActionFor } from "../keys.ts";
import { List, useListNav } from "../components/list.tsx";
import type { ViewProps } from "./view.ts";

const HEADER = `${fit("WORKER", 26)} ${fit("STATE", 9)} ${fit("QUEUES", 20)} ${num("ACTIVE", 9)} ${
  fit("LOAD", 12)
} ${num("BEAT", 6)} ${num("UP", 7)}  VERSION`;

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

export function WorkersView({ height }: ViewProps) {
  const data = useData();
  const ui = useUi();
  const now = useNow();
  const { workers, receivedAt } = useLive(data.workers);
  const connection = useConnection(data.workers);
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
      <Text>
        <Text bold>Workers</Text> <Text dimColor>{workers.length} connected</Text>
      </Text>
      <Text dimColor>{HEADER}</Text>
      <List
        items={workers}
        selected={selected}
        height={listHeight}
        keyOf={(w) => w.id}
        empty={connection.kind === "live" ? "no worker is connected" : "reading workers…"}
        row={(w, _i, sel) => (
          <Text inverse={sel}>
            {fit(w.id, 26)} <Text color={COLORS[w.state]}>{fit(workerStateName(w.state), 9)}</Text>{" "}
            {fit(w.queues.join(","), 20)} {num(`${w.activeTaskIds.length}/${w.concurrency}`, 9)}{" "}
            {bar(w.load, 8)} {num(`${Math.round(w.load * 100)}%`, 3)} {num(beatAge(w, receivedAt, now), 6)}
            {" "}
            {num(age(w.connectTime, now), 7)} {w.version}
          </Text>
        )}
      />
    </Box>
  );
}
