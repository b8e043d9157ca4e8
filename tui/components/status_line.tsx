/**
 * The bottom line: is the TUI connected (every live stream, with its state), who is
 * signed in, and the last action's result.
 */
import { Box, Text } from "ink";
import { useSyncExternalStore } from "react";
import type { Connection, LiveStore } from "../data/live_store.ts";
import { gap, shortDuration } from "../data/format.ts";

function useConnections(stores: readonly LiveStore<unknown, unknown>[]): [string, Connection][] {
  const snapshot = useSyncExternalStore(
    (listener) => {
      const offs = stores.map((s) => s.subscribe(listener));
      return () => offs.forEach((off) => off());
    },
    () => JSON.stringify(stores.map((s) => [s.name, s.connection])),
  );
  return JSON.parse(snapshot);
}

/**
 * One sentence for the whole connection, worst stream first; the error behind it apart,
 * in `detail`, so a narrow line keeps the sentence and the streams and cuts the error.
 */
export function connectionSummary(connections: [string, Connection][], now: number): {
  text: string;
  color: string;
  detail?: string;
} {
  const started = connections.filter(([, c]) => c.kind !== "stopped");
  const retrying = started.find(([, c]) => c.kind === "retrying");
  if (retrying) {
    const c = retrying[1] as Extract<Connection, { kind: "retrying" }>;
    return {
      text: `✖ connection lost — reconnecting, attempt ${c.attempt}, next in ${
        shortDuration(Math.max(0, c.retryAt - now))
      }`,
      color: "red",
      detail: c.error,
    };
  }
  if (started.some(([, c]) => c.kind === "connecting")) return { text: "◌ connecting…", color: "yellow" };
  if (started.length === 0) return { text: "◌ idle", color: "gray" };
  const denied = started.filter(([, c]) => c.kind === "denied");
  if (denied.length === started.length) {
    const c = denied[0][1] as Extract<Connection, { kind: "denied" }>;
    return { text: `⊘ not allowed to watch ${denied.map(([n]) => n).join(", ")} (${c.error})`, color: "red" };
  }
  return { text: "● connected", color: "green" };
}

const MARK: Record<Connection["kind"], string> = {
  live: "●",
  connecting: "◌",
  retrying: "✖",
  denied: "⊘",
  stopped: "·",
};

export function StatusLine(props: {
  stores: readonly LiveStore<unknown, unknown>[];
  url: string;
  who: string;
  flash?: { text: string; level: "info" | "error" };
  width: number;
}) {
  const connections = useConnections(props.stores);
  const summary = connectionSummary(connections, Date.now());
  const streams = connections
    .filter(([, c]) => c.kind !== "stopped")
    .map(([name, c]) => `${name}${MARK[c.kind]}`)
    .join(" ");
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <Text color={summary.color}>{summary.text}</Text>
        <Text dimColor>
          {gap(2)}
          {streams}
          {summary.detail ? ` · ${summary.detail}` : ""} · {props.who} · {props.url}
        </Text>
      </Text>
      <Text color={props.flash?.level === "error" ? "red" : "cyan"} wrap="truncate-end">
        {props.flash ? props.flash.text.slice(0, props.width - 1) : " "}
      </Text>
    </Box>
  );
}
