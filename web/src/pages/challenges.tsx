import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useInfiniteQuery } from "@connectrpc/connect-query";
import { CampaignService, type MyDelivery } from "../../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { FormError } from "../components/field.tsx";
import { messageOf } from "../errors.ts";
import { Link } from "../router.tsx";

const PAGE = 20;

function day(d: MyDelivery): string {
  const at = d.sendTime ?? d.runTime;
  return at ? timestampDate(at).toISOString().slice(0, 10) : "";
}

/** One received mail: the challenge it carried (the body is the server's sanitised HTML). */
function Challenge({ delivery }: { delivery: MyDelivery }) {
  const item = delivery.item;
  const difficulty = item?.metadata.difficulty;
  return (
    <li className="challenge" data-testid="challenge">
      <div className="row">
        <strong>{item?.title ?? delivery.campaignName}</strong>
        <time dateTime={day(delivery)}>{day(delivery)}</time>
      </div>
      <div className="aside">
        {delivery.campaignName}
        {difficulty ? ` · ${difficulty}` : ""}
      </div>
      {item && (
        <details>
          <summary>Read the challenge</summary>
          {/* Rendered and sanitised by the server on save; the CSP runs no inline script anyway. */}
          <div className="challenge-body" dangerouslySetInnerHTML={{ __html: item.bodyHtml }} />
          {item.metadata.source_url && (
            <p>
              <a href={item.metadata.source_url} rel="noopener noreferrer">Source</a>
            </p>
          )}
        </details>
      )}
    </li>
  );
}

/** The daily challenges (and other campaign mails) the signed-in member received, newest first. */
export function ChallengesPage() {
  const mine = useInfiniteQuery(
    CampaignService.method.listMyDeliveries,
    { pageSize: PAGE, pageToken: "" },
    { pageParamKey: "pageToken", getNextPageParam: (last) => last.nextPageToken || undefined },
  );
  const deliveries = mine.data?.pages.flatMap((p) => p.deliveries) ?? [];
  return (
    <section className="card">
      <h1>Your challenges</h1>
      <p>The daily challenges and other campaign emails you received, newest first.</p>
      {mine.isError && <FormError message={messageOf(mine.error)} />}
      {mine.isPending && <p role="status">Loading…</p>}
      {mine.isSuccess && deliveries.length === 0 && (
        <p data-testid="no-challenges">
          Nothing yet. Challenges match the tags you follow: <Link to="/tags">pick some</Link>.
        </p>
      )}
      <ul className="list challenges" data-testid="challenges">
        {deliveries.map((d) => <Challenge key={d.id} delivery={d} />)}
      </ul>
      {mine.hasNextPage && (
        <button
          type="button"
          className="ghost"
          disabled={mine.isFetchingNextPage}
          onClick={() => mine.fetchNextPage()}
        >
          Show older ones
        </button>
      )}
    </section>
  );
}
