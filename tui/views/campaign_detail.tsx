/**
 * One campaign: its figures as they move, why it is paused, and its latest run's
 * deliveries, failures first (ListDeliveries), each with its attempts and last error or
 * skip reason. The deliveries are read again when the finished count moves, at most
 * once a second.
 */
import { Box, Text } from "ink";
import { useEffect, useRef, useState } from "react";
import { type Campaign, type Delivery, DeliveryState } from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { useData, useViewKeys } from "../context.ts";
import { StaleMark } from "../components/stale_mark.tsx";
import { List, useListNav } from "../components/list.tsx";
import { describeError } from "../data/clients.ts";
import { campaignStateName, finished, type LiveFigures, progress } from "../data/campaigns_reducer.ts";
import { clock, fit, gap, num } from "../data/format.ts";
import { bar } from "../data/sparkline.ts";
import { CAMPAIGN_COLORS, rateAndEta } from "./campaigns.tsx";

/** Most deliveries read for the list. */
export const MAX_DELIVERIES = 2000;
const RELOAD_MS = 1000;

const DELIVERY_NAMES: Record<DeliveryState, string> = {
  [DeliveryState.UNSPECIFIED]: "—",
  [DeliveryState.PENDING]: "pending",
  [DeliveryState.SENDING]: "sending",
  [DeliveryState.SENT]: "sent",
  [DeliveryState.FAILED]: "failed",
  [DeliveryState.SKIPPED]: "skipped",
};

const DELIVERY_COLORS: Partial<Record<DeliveryState, string>> = {
  [DeliveryState.SENDING]: "cyan",
  [DeliveryState.SENT]: "green",
  [DeliveryState.FAILED]: "red",
  [DeliveryState.SKIPPED]: "gray",
};

/** Why a delivery is where it is: the last SMTP error, or the skip reason. */
function why(d: Delivery): string {
  if (d.state === DeliveryState.SKIPPED) return d.skipReason ? `skipped: ${d.skipReason}` : "skipped";
  return d.lastError;
}

/**
 * The deliveries, read again whenever `version` changes; a change while a read is in
 * flight makes one more read a second after it, so bursts of changes cost a read a second.
 */
function useDeliveries(campaignId: string, version: string) {
  const data = useData();
  const [got, setGot] = useState<{ deliveries: Delivery[]; more: boolean; error?: string }>();
  const reads = useRef({ busy: false, again: false, mounted: true });
  useEffect(() => () => void (reads.current.mounted = false), []);
  useEffect(() => {
    const s = reads.current;
    const read = async (): Promise<void> => {
      if (s.busy) {
        s.again = true;
        return;
      }
      s.busy = true;
      try {
        const r = await data.actions.listDeliveries(campaignId, MAX_DELIVERIES);
        if (s.mounted) setGot(r);
      } catch (error) {
        if (s.mounted) {
          setGot((g) => ({ deliveries: g?.deliveries ?? [], more: false, error: describeError(error) }));
        }
      } finally {
        s.busy = false;
      }
      if (s.again && s.mounted) {
        s.again = false;
        await data.clock.sleep(RELOAD_MS).catch(() => {});
        if (s.mounted) await read();
      }
    };
    void read();
  }, [version]);
  return got;
}

export function CampaignDetail(props: {
  campaign: Campaign;
  live?: LiveFigures;
  watchError?: string;
  height: number;
  width: number;
  staleSince?: number;
  /** The view's handler for the keys the list does not use (esc, p, r, c). */
  onKey: (key: string) => boolean;
}) {
  const { campaign: c, width } = props;
  const stats = c.stats;
  const got = useDeliveries(c.id, `${c.state}:${finished(stats)}:${c.currentRun?.id ?? ""}`);
  const deliveries = got?.deliveries ?? [];
  const reason = c.pauseReason || c.currentRun?.pauseReason || "";
  const top = 4 + (reason ? 1 : 0) + (got?.error || props.watchError ? 1 : 0);
  const listHeight = Math.max(3, props.height - top);
  const [selected, , nav] = useListNav(`campaign.${c.id}`, deliveries, (d) => d.id, listHeight);
  // Mounted inside the Campaigns view, it takes the keys first: the list's, then the view's.
  useViewKeys((key) => nav(key) || props.onKey(key));
  const fraction = progress(stats);
  const [r, eta] = rateAndEta(c, props.live);
  const emailWidth = Math.max(16, Math.min(40, width - 60));
  return (
    <Box flexDirection="column" height={props.height}>
      <Text wrap="truncate-end">
        <Text bold>Campaign {c.name}</Text>{" "}
        <Text color={CAMPAIGN_COLORS[c.state]}>{campaignStateName(c.state)}</Text>
        <Text dimColor>{gap(2)}run {clock(c.currentRun?.runTime)} · esc back</Text>
        <StaleMark since={props.staleSince} />
      </Text>
      <Text wrap="truncate-end">
        {bar(fraction, Math.max(10, Math.min(30, width - 60)))} {Math.floor(fraction * 100)}%{gap(1)}
        <Text dimColor>
          {stats?.sent ?? 0n} sent · {stats?.failed ?? 0n} failed · {stats?.skipped ?? 0n} skipped ·{" "}
          {stats?.pending ?? 0n} pending of {stats?.total ?? 0n}
        </Text>
      </Text>
      <Text wrap="truncate-end">
        rate {r}/s · ETA {eta} · {stats?.sending ?? 0n} in flight
      </Text>
      {reason ? <Text color="yellow" wrap="truncate-end">paused: {reason}</Text> : null}
      {got?.error || props.watchError
        ? <Text color="red" wrap="truncate-end">{got?.error ?? `live figures: ${props.watchError}`}</Text>
        : null}
      <Text dimColor wrap="truncate-end">
        {fit("EMAIL", emailWidth)} {fit("STATE", 8)} {num("TRY", 3)} {fit("SENT AT", 19)} ERROR / REASON
      </Text>
      <List
        items={deliveries}
        selected={selected}
        height={listHeight}
        keyOf={(d) => d.id}
        empty={got ? "no deliveries in this run" : "reading deliveries…"}
        row={(d, _i, sel) => (
          <Text inverse={sel} wrap="truncate-end">
            {fit(d.email, emailWidth)}{" "}
            <Text color={DELIVERY_COLORS[d.state]}>{fit(DELIVERY_NAMES[d.state] ?? "—", 8)}</Text>{" "}
            {num(d.attempts, 3)} {fit(d.sendTime ? clock(d.sendTime) : "", 19)}{" "}
            <Text color={d.state === DeliveryState.FAILED ? "red" : undefined}>{why(d)}</Text>
          </Text>
        )}
      />
    </Box>
  );
}
