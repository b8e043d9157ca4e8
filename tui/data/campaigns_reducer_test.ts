import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  CampaignSchema,
  CampaignState,
  CampaignStatsSchema,
  WatchCampaignResponseSchema,
} from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { EMPTY_CAMPAIGNS, progress, reduceCampaigns } from "./campaigns_reducer.ts";
import { RESYNC } from "./live_store.ts";

const campaign = (id: string, sent: bigint) =>
  create(CampaignSchema, {
    id,
    name: id,
    state: CampaignState.SENDING,
    stats: create(CampaignStatsSchema, { total: 10n, sent, pending: 10n - sent }),
  });

Deno.test("a watch answer replaces its campaign and brings rate and ETA; a list keeps them", () => {
  const listed = reduceCampaigns(EMPTY_CAMPAIGNS, [
    { kind: "listed", campaigns: [campaign("a", 0n), campaign("b", 0n)], truncated: false },
  ]);
  assert.notEqual(listed, RESYNC);
  const moved = reduceCampaigns(listed as typeof EMPTY_CAMPAIGNS, [{
    kind: "progress",
    response: create(WatchCampaignResponseSchema, {
      campaign: campaign("b", 4n),
      ratePerSecond: 2,
      etaSeconds: 3n,
    }),
    at: 7,
  }]) as typeof EMPTY_CAMPAIGNS;
  assert.deepEqual(moved.campaigns.map((c) => [c.id, c.stats?.sent]), [["a", 0n], ["b", 4n]]);
  assert.deepEqual(moved.live.b, { rate: 2, etaSeconds: 3, at: 7 });
  const again = reduceCampaigns(moved, [
    { kind: "listed", campaigns: [campaign("b", 5n)], truncated: true },
  ]) as typeof EMPTY_CAMPAIGNS;
  assert.equal(again.live.b.rate, 2);
  assert.equal(again.truncated, true);
  assert.equal(progress(again.campaigns[0].stats), 0.5);
  const paused = create(CampaignSchema, { ...campaign("b", 5n), state: CampaignState.PAUSED });
  const changed = reduceCampaigns(again, [{ kind: "changed", campaign: paused }]) as typeof EMPTY_CAMPAIGNS;
  assert.equal(changed.campaigns[0].state, CampaignState.PAUSED);
  assert.equal(changed.live.b.rate, 2);
  assert.equal(reduceCampaigns(again, [{ kind: "overflow" }]), RESYNC);
});

Deno.test("progress counts sent, failed and skipped over the total; none is 0", () => {
  assert.equal(progress(undefined), 0);
  assert.equal(progress(create(CampaignStatsSchema, { total: 0n })), 0);
  assert.equal(progress(create(CampaignStatsSchema, { total: 4n, sent: 1n, failed: 1n, skipped: 1n })), 0.75);
});
