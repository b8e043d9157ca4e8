/**
 * Alerts: the alerts firing now (longest-firing first, with what holds and whether it
 * was notified or fell inside a silence window), then every rule with its threshold and
 * where it notifies. `r` reads both again; they are read every few seconds meanwhile.
 */
import { Box, Text } from "ink";
import { useEffect, useSyncExternalStore } from "react";
import { AlertKind, type AlertRule, type FiringAlert } from "../../gen/taskmesh/alerts/v1/alerts_pb.ts";
import { useClockNow, useData, useUi, useViewKeys } from "../context.ts";
import { StaleMark } from "../components/stale_mark.tsx";
import { List, useListNav } from "../components/list.tsx";
import { age, fit, shortDuration } from "../data/format.ts";
import { viewActionFor } from "../keys.ts";
import type { ViewProps } from "./view.ts";

export function kindName(kind: AlertKind): string {
  return AlertKind[kind]?.toLowerCase() ?? "—";
}

/** "≥ 300 s", "≥ 50%", "+1": the rule's threshold in its kind's unit. */
function threshold(rule: AlertRule): string {
  switch (rule.kind) {
    case AlertKind.OLDEST_QUEUED_AGE:
      return `≥ ${rule.threshold} s`;
    case AlertKind.ERROR_RATE:
      return `≥ ${Math.round(rule.threshold * 1000) / 10}%`;
    case AlertKind.DEAD_LETTERS_GROWING:
      return `+${rule.threshold}`;
    default:
      return "";
  }
}

const ms = (d: { seconds: bigint; nanos: number } | undefined) =>
  d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0;

export function AlertsView({ height, width }: ViewProps) {
  const data = useData();
  const ui = useUi();
  const now = useClockNow();
  const state = useSyncExternalStore(data.alerts.subscribe, data.alerts.getState);
  useEffect(() => data.alerts.show(), []);
  const firingRows = Math.min(state.firing.length, Math.max(1, Math.floor((height - 4) / 2)));
  const listHeight = Math.max(3, height - 4 - Math.max(1, firingRows));
  const [selected, , nav] = useListNav("alerts", state.rules, (r) => r.id, listHeight);
  const stale = state.error !== undefined;
  const nameWidth = Math.min(28, Math.max(12, Math.floor(width * 0.22)));

  useViewKeys((key) => {
    if (nav(key)) return true;
    if (viewActionFor("alerts", key, ui.caps)?.action === "reload") {
      void data.alerts.read();
      return true;
    }
    return false;
  });

  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <Text bold>Firing alerts</Text> <Text dimColor>{state.firing.length}</Text>
        <StaleMark since={stale ? state.readAt ?? now : undefined} />
      </Text>
      {state.readAt === undefined && !stale
        ? <Text dimColor>reading alerts…</Text>
        : state.firing.length === 0
        ? <Text color="green">no alert is firing</Text>
        : state.firing.slice(0, firingRows).map((a) => (
          <Text key={a.ruleId} color="red" dimColor={stale} wrap="truncate-end">
            ✖ {fit(a.ruleName, nameWidth)} {fit(age(a.since, now), 7)} {a.notified ? "" : "(silenced) "}
            {a.summary}
          </Text>
        ))}
      {state.firing.length > firingRows
        ? <Text dimColor>… {state.firing.length - firingRows} more</Text>
        : null}
      <Text bold>Rules</Text>
      <Text dimColor wrap="truncate-end">
        {fit("NAME", nameWidth)} {fit("KIND", 22)} {fit("QUEUE", 14)} {fit("WHEN", 8)} {fit("SILENCE", 8)}
        {" "}
        NOTIFIES
      </Text>
      <List
        items={state.rules}
        selected={selected}
        height={listHeight}
        keyOf={(r) => r.id}
        empty={state.readAt === undefined
          ? "reading rules…"
          : "no alert rule: an admin adds them (AlertService)"}
        row={(r, _i, sel) => (
          <Text inverse={sel} dimColor={stale} wrap="truncate-end">
            {fit(r.name, nameWidth)} {fit(kindName(r.kind), 22)} {fit(r.queue || "—", 14)}{" "}
            {fit(threshold(r), 8)} {fit(shortDuration(ms(r.silence)), 8)} {r.emailTo || r.webhookUrl}
          </Text>
        )}
      />
    </Box>
  );
}

/** The overview's warning line for each firing alert. */
export function firingLines(firing: readonly FiringAlert[], now: number): string[] {
  return firing.map((a) => `alert ${a.ruleName} firing for ${age(a.since, now)}: ${a.summary}`);
}
