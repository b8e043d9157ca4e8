/**
 * Campaigns: each with its state, a progress bar of its (current run's) deliveries,
 * sent of total, failures, and the rate and ETA its WatchCampaign stream reports.
 * Operators and admins pause, resume and cancel (each asks first); enter opens the
 * campaign's deliveries, failures first.
 */
import { Box, Text } from "ink";
import type { Campaign } from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { CampaignState } from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import {
  useConnection,
  useData,
  useLive,
  useRemembered,
  useStaleSince,
  useUi,
  useViewKeys,
} from "../context.ts";
import { StaleMark } from "../components/stale_mark.tsx";
import { List, useListNav } from "../components/list.tsx";
import {
  type CampaignsState,
  campaignStateName,
  progress,
  reduceCampaigns,
} from "../data/campaigns_reducer.ts";
import type { Ui } from "../context.ts";
import type { DataLayer } from "../data/layer.ts";
import { fit, num, rate, shortDuration } from "../data/format.ts";
import { bar } from "../data/sparkline.ts";
import { viewActionFor } from "../keys.ts";
import { CampaignDetail } from "./campaign_detail.tsx";
import type { ViewProps } from "./view.ts";

/** Column widths at `width` columns: the fixed ones take 62. */
export function campaignColumns(width: number) {
  const wide = width >= 100;
  return { name: Math.max(10, Math.min(40, width - 63 - (wide ? 8 : 0))), bar: wide ? 18 : 10 };
}

function header(width: number): string {
  const c = campaignColumns(width);
  return `${fit("CAMPAIGN", c.name)} ${fit("STATE", 9)} ${fit("PROGRESS", c.bar + 5)} ${
    num("SENT/TOTAL", 13)
  } ${num("FAIL", 5)} ${num("RATE/S", 6)} ${num("ETA", 6)}`;
}

export const CAMPAIGN_COLORS: Partial<Record<CampaignState, string>> = {
  [CampaignState.SENDING]: "cyan",
  [CampaignState.PAUSED]: "yellow",
  [CampaignState.COMPLETED]: "green",
  [CampaignState.CANCELLED]: "gray",
};

/** The RATE/S and ETA cells: live figures while watched; "done" when nothing is left. */
export function rateAndEta(c: Campaign, live: CampaignsState["live"][string] | undefined): [string, string] {
  const done = c.state === CampaignState.COMPLETED || c.state === CampaignState.CANCELLED;
  if (done) return ["—", "done"];
  if (!live) return ["—", "—"];
  const eta = c.state === CampaignState.PAUSED
    ? "paused"
    : live.etaSeconds > 0
    ? shortDuration(live.etaSeconds * 1000)
    : "—";
  return [rate(live.rate), eta];
}

/** Runs a confirmed pause, resume or cancel of `c`, after checking it makes sense now. */
export function campaignAction(action: string | undefined, c: Campaign, ui: Ui, data: DataLayer): boolean {
  const name = c.name;
  // The row turns as soon as the server answers, not at the stream's next word.
  const changed = (campaign: Campaign) =>
    data.campaigns.update((s) => {
      const next = reduceCampaigns(s, [{ kind: "changed", campaign }]);
      return typeof next === "symbol" ? s : next;
    });
  switch (action) {
    case "pause":
      if (c.state !== CampaignState.SENDING && c.state !== CampaignState.SCHEDULED) {
        ui.flash(`campaign ${name} is ${campaignStateName(c.state)}: only a sending or scheduled one pauses`);
      } else ui.confirm(`Pause campaign ${name}?`, () => data.actions.pauseCampaign(c.id, name, changed));
      return true;
    case "resume":
      if (c.state !== CampaignState.PAUSED) ui.flash(`campaign ${name} is not paused`);
      else ui.confirm(`Resume campaign ${name}?`, () => data.actions.resumeCampaign(c.id, name, changed));
      return true;
    case "cancel":
      if (c.state === CampaignState.COMPLETED || c.state === CampaignState.CANCELLED) {
        ui.flash(`campaign ${name} is already ${campaignStateName(c.state)}`);
      } else {
        ui.confirm(
          `Cancel campaign ${name} for good? Its unsent deliveries are skipped.`,
          () => data.actions.cancelCampaign(c.id, name, changed),
        );
      }
      return true;
    default:
      return false;
  }
}

export function CampaignsView({ height, width }: ViewProps) {
  const data = useData();
  const ui = useUi();
  const state = useLive(data.campaigns);
  const connection = useConnection(data.campaigns);
  const staleSince = useStaleSince([data.campaigns]);
  const [open, setOpen] = useRemembered<string | undefined>("campaigns.open", undefined);
  const c = campaignColumns(width);
  const listHeight = Math.max(3, height - 2);
  const [selected, , nav] = useListNav("campaigns", state.campaigns, (x) => x.id, listHeight);
  const current = state.campaigns[selected];
  const opened = open ? state.campaigns.find((x) => x.id === open) : undefined;
  const sending = state.campaigns.filter((x) => x.state === CampaignState.SENDING).length;
  const paused = state.campaigns.filter((x) => x.state === CampaignState.PAUSED).length;

  const onDetailKey = (key: string) => {
    if (!opened) return false;
    if (key === "esc") {
      setOpen(undefined);
      return true;
    }
    return campaignAction(viewActionFor("campaigns", key, ui.caps)?.action, opened, ui, data);
  };
  useViewKeys((key) => {
    const action = viewActionFor("campaigns", key, ui.caps)?.action;
    if (opened) return onDetailKey(key);
    if (nav(key)) return true;
    if (!current) return false;
    if (action === "open") {
      setOpen(current.id);
      return true;
    }
    return campaignAction(action, current, ui, data);
  });

  if (opened) {
    return (
      <CampaignDetail
        key={opened.id}
        campaign={opened}
        live={state.live[opened.id]}
        watchError={state.watchErrors[opened.id]}
        height={height}
        width={width}
        staleSince={staleSince}
        onKey={onDetailKey}
      />
    );
  }
  const denied = connection.kind === "denied" ? connection.error : undefined;
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <Text bold>Campaigns</Text>{" "}
        <Text dimColor>
          {state.campaigns.length}
          {state.truncated ? "+" : ""} · {sending} sending · {paused} paused
        </Text>
        <StaleMark since={staleSince} />
      </Text>
      <Text dimColor wrap="truncate-end">{header(width)}</Text>
      <List
        items={state.campaigns}
        selected={selected}
        height={listHeight}
        keyOf={(x) => x.id}
        empty={denied ?? (connection.kind === "live" ? "no campaigns yet" : "reading campaigns…")}
        row={(x, _i, sel) => {
          const stats = x.stats;
          const fraction = progress(stats);
          const [r, eta] = rateAndEta(x, state.live[x.id]);
          return (
            <Text inverse={sel} dimColor={staleSince !== undefined} wrap="truncate-end">
              {fit(x.name, c.name)}{" "}
              <Text color={CAMPAIGN_COLORS[x.state]}>{fit(campaignStateName(x.state), 9)}</Text>{" "}
              {bar(fraction, c.bar)} {num(`${Math.floor(fraction * 100)}%`, 4)}{" "}
              {num(`${stats?.sent ?? 0n}/${stats?.total ?? 0n}`, 13)}{" "}
              <Text color={stats && stats.failed > 0n ? "red" : undefined}>
                {num(`${stats?.failed ?? 0n}`, 5)}
              </Text>{" "}
              {num(r, 6)} {num(eta, 6)}
            </Text>
          );
        }}
      />
    </Box>
  );
}
