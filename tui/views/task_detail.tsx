/**
 * One task in full: its spec, the payload pretty-printed, its output once it succeeded,
 * the last error with the handler's stack trace, every attempt with its worker and
 * error, and a progress bar that moves live (the list's WatchTasks events carry
 * progress; attempts, output and errors are read again with GetTask when the state changes).
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Box, Text } from "ink";
import { useEffect, useState } from "react";
import type { Task } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { TaskState } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { useData } from "../context.ts";
import { describeError } from "../data/clients.ts";
import {
  age,
  clock,
  fit,
  gap,
  outcomeName,
  prettyPayload,
  shortDuration,
  stateName,
} from "../data/format.ts";
import { bar } from "../data/sparkline.ts";
import { StaleMark } from "../components/stale_mark.tsx";
import { blockRows, TextBlock } from "../components/text_block.tsx";

/** Rows at most for the output and for the stack trace; the payload gets what is left. */
const OUTPUT_ROWS = 6;
const STACK_ROWS = 8;

export function stateColor(state: TaskState): string | undefined {
  switch (state) {
    case TaskState.RUNNING:
      return "cyan";
    case TaskState.SUCCEEDED:
      return "green";
    case TaskState.FAILED:
      return "yellow";
    case TaskState.DEAD:
      return "red";
    case TaskState.CANCELLED:
      return "gray";
    default:
      return undefined;
  }
}

export function TaskDetail(
  props: { id: string; live?: Task; height: number; width: number; now: number; staleSince?: number },
) {
  const data = useData();
  const [full, setFull] = useState<Task | undefined>();
  const [error, setError] = useState<string | undefined>();
  const live = props.live;
  // Attempts change only with the state or the attempt count: read them again then.
  const version = live ? `${live.state}:${live.attemptCount}` : "";
  useEffect(() => {
    let current = true;
    data.actions.getTask(props.id).then(
      (task) => current && (setFull(task), setError(undefined)),
      (e) => current && setError(describeError(e)),
    );
    return () => {
      current = false;
    };
  }, [props.id, version]);

  const task = live && full && timestampMs(live.updateTime!) >= timestampMs(full.updateTime!)
    ? { ...full, state: live.state, progress: live.progress, attemptCount: live.attemptCount }
    : full ?? live;
  if (!task) return <Text dimColor>{error ?? "reading the task…"}</Text>;
  const spec = task.spec;
  const attempts = full?.attempts ?? [];
  const attemptRows = Math.min(attempts.length, 8);
  const payloadLines = prettyPayload(spec?.payload ?? new Uint8Array()).split("\n");
  const outputLines = task.output.length > 0 ? prettyPayload(task.output).split("\n") : [];
  const stackLines = whereItFailed(task.lastError?.stack ?? "");
  const stale = props.staleSince !== undefined;
  // What the fixed lines leave: the stack and the output take up to a share of it, the payload the rest.
  const free = props.height - 9 - attemptRows - (task.lastError ? 1 : 0) - (stale ? 1 : 0);
  const stackRoom = Math.min(STACK_ROWS, Math.floor(free / 3));
  const outputRoom = Math.min(OUTPUT_ROWS, Math.floor(free / 4));
  const payloadRoom = Math.max(
    1,
    free - blockRows(outputLines, outputRoom) - blockRows(stackLines, stackRoom),
  );
  const percent = task.progress?.percent ?? 0;
  const w = props.width;

  return (
    <Box flexDirection="column" height={props.height}>
      {stale
        ? (
          <Text wrap="truncate-end">
            <StaleMark since={props.staleSince} />
          </Text>
        )
        : null}
      <Text wrap="truncate-end" dimColor={stale}>
        <Text bold>Task {task.id}</Text>{" "}
        <Text color={stateColor(task.state)}>{stateName(task.state).toUpperCase()}</Text>
        <Text dimColor>
          {gap(2)}queue {spec?.queue} · type {spec?.type} · priority {spec?.priority ?? 0}
        </Text>
      </Text>
      <Text dimColor wrap="truncate-end">
        attempts {task.attemptCount}/{spec?.maxAttempts || "?"} · created {age(task.createTime, props.now)}
        {" "}
        ago · changed {age(task.updateTime, props.now)} ago · run at {clock(task.runTime)}
        {task.cancelReason ? ` · cancelled: ${task.cancelReason}` : ""}
      </Text>
      <Text wrap="truncate-end" dimColor={stale}>
        Progress <Text color="cyan">{bar(percent / 100, 30)}</Text> {percent.toFixed(0)}%{" "}
        <Text dimColor>{task.progress?.message ?? ""}</Text>
      </Text>
      {task.lastError
        ? (
          <Text color="red">
            {fit(
              `Last error: ${
                task.lastError.code ? `[${task.lastError.code}] ` : ""
              }${task.lastError.message}${task.lastError.retryable ? " (retryable)" : ""}`,
              w,
            )}
          </Text>
        )
        : null}
      <TextBlock title="Stack" lines={stackLines} room={stackRoom} width={w} color="red" />
      <TextBlock title="Payload" lines={payloadLines} room={payloadRoom} width={w} />
      <TextBlock title="Output" lines={outputLines} room={outputRoom} width={w} />
      <Text bold>Attempts</Text>
      {attempts.length === 0 ? <Text dimColor>none yet</Text> : (
        <Text dimColor>
          {`${fit("#", 3)} ${fit("WORKER", 24)} ${fit("OUTCOME", 14)} ${fit("STARTED", 20)} ${
            fit("TOOK", 7)
          } ERROR`}
        </Text>
      )}
      {attempts.slice(-attemptRows).map((a) => {
        const took = a.startTime && a.endTime
          ? shortDuration(timestampMs(a.endTime) - timestampMs(a.startTime))
          : a.startTime
          ? `${age(a.startTime, props.now)}…`
          : "—";
        const err = a.error ? `${a.error.code ? `[${a.error.code}] ` : ""}${a.error.message}` : "";
        return (
          <Text key={a.number}>
            {fit(
              `${fit(String(a.number), 3)} ${fit(a.workerId, 24)} ${fit(outcomeName(a.outcome), 14)} ${
                fit(clock(a.startTime), 20)
              } ${fit(took, 7)} ${err}`,
              w,
            )}
          </Text>
        );
      })}
    </Box>
  );
}

/** A stack trace's lines, without its header line. */
function whereItFailed(stack: string): string[] {
  const lines = stack.split("\n").filter((line) => line.trim() !== "");
  // A header line ("Error: msg", "Traceback (most recent call last):") above indented frames says less than
  // the "Last error" line already does; the frames say where.
  const header = lines.length > 1 && !/^\s/.test(lines[0]) && /^\s/.test(lines[1]);
  return header ? lines.slice(1) : lines;
}
