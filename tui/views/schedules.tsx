/**
 * Schedules: each with its timing in words, the next fire counting down on the TUI's
 * clock, the last fire and what became of its task, and its overlap and catch-up
 * policies; the recent fires of the selected one below. Pause, resume, trigger now and
 * delete each ask first.
 */
import { useEffect, useState } from "react";
import { Box, Text } from "ink";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  CatchUpPolicy,
  OverlapPolicy,
  type Schedule,
  type ScheduleFire,
  ScheduleFireOutcome,
} from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import {
  useClockNow,
  useConnection,
  useData,
  useLive,
  useStaleSince,
  useUi,
  useViewKeys,
} from "../context.ts";
import { StaleMark } from "../components/stale_mark.tsx";
import { fit, num, shortDuration, stateName } from "../data/format.ts";
import { viewActionFor } from "../keys.ts";
import { List, useListNav } from "../components/list.tsx";
import type { ViewProps } from "./view.ts";

/** Lines the recent fires take under the list. */
const FIRE_ROWS = 6;

const lower = (name: string | undefined) => (name ?? "").toLowerCase();

export function policies(s: Schedule): string {
  const overlap = lower(
    OverlapPolicy[s.overlap === OverlapPolicy.UNSPECIFIED ? OverlapPolicy.SKIP : s.overlap],
  );
  const catchUp = s.catchUp === CatchUpPolicy.ONCE
    ? "latest"
    : lower(CatchUpPolicy[s.catchUp === CatchUpPolicy.UNSPECIFIED ? CatchUpPolicy.SKIP : s.catchUp]);
  return `${overlap.replace("_", " ")} · ${catchUp}`;
}

/** "in 4m12s", "due", "paused", "done". */
export function countdown(s: Schedule, now: number): string {
  if (s.paused) return "paused";
  if (!s.nextFireTime) return "done";
  const left = timestampMs(s.nextFireTime) - now;
  return left <= 0 ? "due" : `in ${shortDuration(left + 999)}`;
}

function fireResult(f: ScheduleFire | undefined): string {
  if (!f) return "never";
  const outcome = lower(ScheduleFireOutcome[f.outcome]);
  return f.taskId && f.taskState ? `${outcome} → ${stateName(f.taskState)}` : outcome;
}

function lastFire(s: Schedule, now: number): string {
  const f = s.lastFire;
  if (!f?.fireTime) return "never";
  return `${shortDuration(Math.max(0, now - timestampMs(f.fireTime)))} ago ${fireResult(f)}`;
}

function columns(width: number) {
  const avail = Math.max(20, width - 2 - 10 - 30 - 22 - 4);
  return { name: Math.max(10, Math.floor(avail * 0.4)), when: Math.max(10, avail - Math.floor(avail * 0.4)) };
}

function header(width: number): string {
  const c = columns(width);
  return `  ${fit("NAME", c.name)} ${fit("WHEN", c.when)} ${num("NEXT", 10)} ${
    fit("LAST FIRE", 30)
  } POLICIES`;
}

function tick(f: ScheduleFire): string {
  return f.tickTime ? new Date(timestampMs(f.tickTime)).toISOString().replace("T", " ").slice(0, 19) : "—";
}

export function SchedulesView({ height, width }: ViewProps) {
  const data = useData();
  const ui = useUi();
  const now = useClockNow();
  const state = useLive(data.schedules);
  const connection = useConnection(data.schedules);
  const staleSince = useStaleSince([data.schedules]);
  const schedules = state.schedules;
  const c = columns(width);
  const listHeight = Math.max(3, height - 4 - FIRE_ROWS);
  const [selected, , nav] = useListNav("schedules", schedules, (s) => s.id, listHeight);
  const current = schedules[selected];
  const [fires, setFires] = useState<ScheduleFire[]>([]);
  const [changed, setChanged] = useState(0);

  useEffect(() => {
    if (!current) return setFires([]);
    let live = true;
    data.actions.scheduleFires(current.id).then((f) => live && setFires(f), () => live && setFires([]));
    return () => {
      live = false;
    };
  }, [current?.id, state.readAt, changed]);

  const act = (work: () => Promise<string>) => async () => {
    const said = await work();
    data.schedules.restart();
    setChanged((n) => n + 1);
    return said;
  };

  useViewKeys((key) => {
    if (nav(key)) return true;
    if (!current) return false;
    const a = data.actions;
    const { id, name } = current;
    switch (viewActionFor("schedules", key, ui.caps)?.action) {
      case "pause":
        if (current.paused) ui.flash(`schedule ${name} is already paused`);
        else {ui.confirm(
            `Pause schedule ${name}? It fires nothing until resumed.`,
            act(() => a.pauseSchedule(id, name)),
          );}
        return true;
      case "resume":
        if (!current.paused) ui.flash(`schedule ${name} is not paused`);
        else {
          ui.confirm(
            `Resume schedule ${name}? Ticks it missed follow its catch-up policy.`,
            act(() => a.resumeSchedule(id, name)),
          );
        }
        return true;
      case "trigger":
        ui.confirm(
          `Fire schedule ${name} now? Its overlap policy (${policies(current).split(" · ")[0]}) applies.`,
          act(() => a.triggerSchedule(id, name)),
        );
        return true;
      case "delete":
        ui.confirm(
          `Delete schedule ${name}? Tasks it already fired stay.`,
          act(() => a.deleteSchedule(id, name)),
        );
        return true;
    }
    return false;
  });

  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <Text bold>Schedules</Text> <Text dimColor>{schedules.length} schedules</Text>
        <StaleMark since={staleSince} />
      </Text>
      <Text dimColor wrap="truncate-end">{header(width)}</Text>
      <List
        items={schedules}
        selected={selected}
        height={listHeight}
        keyOf={(s) => s.id}
        empty={connection.kind === "live" ? "no schedule yet" : "reading schedules…"}
        row={(s, _i, sel) => (
          <Text inverse={sel} dimColor={staleSince !== undefined || s.paused} wrap="truncate-end">
            {sel ? "> " : "  "}
            {fit(s.name, c.name)} {fit(s.description, c.when)} {num(countdown(s, now), 10)}{" "}
            {fit(lastFire(s, now), 30)} {policies(s)}
          </Text>
        )}
      />
      <Text bold wrap="truncate-end">
        {current ? `Recent fires of ${current.name}` : "Recent fires"}
        {current?.paused && current.pauseNote
          ? <Text color="yellow">{` paused: ${current.pauseNote}`}</Text>
          : null}
      </Text>
      {fires.length === 0
        ? <Text dimColor>{current ? "no fire yet" : "select a schedule"}</Text>
        : fires.slice(0, FIRE_ROWS).map((f) => (
          <Text key={`${tick(f)}${f.manual}`} wrap="truncate-end">
            {"  "}
            {tick(f)} {fit(f.manual ? "trigger" : "tick", 7)} {fit(fireResult(f), 24)}{" "}
            {f.taskId ? `task ${f.taskId.slice(0, 8)}` : f.message}
          </Text>
        ))}
    </Box>
  );
}
