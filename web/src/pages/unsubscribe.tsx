import { useMutation } from "@connectrpc/connect-query";
import { CampaignService } from "../../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { FormError, Notice } from "../components/field.tsx";
import { messageOf } from "../errors.ts";
import { Link, useLocation } from "../router.tsx";
import { useTokenFromUrl } from "./_token.ts";

/**
 * The unsubscribe link of every campaign mail lands here (GET /unsubscribe?token=…):
 * one click confirms (a link scanner that opens the page unsubscribes no one), the
 * confirmation names the address, and "Undo" subscribes it again with the same link.
 * Mail clients' one-click POST (RFC 8058) goes to the server's route, not here.
 */
export function UnsubscribePage() {
  const { params } = useLocation();
  const token = useTokenFromUrl(params);
  const unsubscribe = useMutation(CampaignService.method.unsubscribeByToken);
  const undo = useMutation(CampaignService.method.resubscribeByToken);
  // The latest of the two answers says where the address stands.
  const undone = undo.isSuccess && (unsubscribe.submittedAt < undo.submittedAt);
  const unsubscribed = unsubscribe.isSuccess && !undone;
  const email = undo.data?.email ?? unsubscribe.data?.email;
  const busy = unsubscribe.isPending || undo.isPending;

  return (
    <section className="card">
      <h1>Unsubscribe</h1>
      {!token && (
        <FormError message="This page needs the unsubscribe link from a campaign email: open it from the email." />
      )}
      {token && !unsubscribe.isSuccess && (
        <>
          <p>Stop receiving campaign emails, such as the daily challenge, at this address?</p>
          <FormError message={unsubscribe.isError ? messageOf(unsubscribe.error) : undefined} />
          <button
            type="button"
            className="danger"
            disabled={busy}
            onClick={() => unsubscribe.mutate({ token })}
          >
            Unsubscribe
          </button>
        </>
      )}
      {unsubscribed && (
        <>
          <Notice>
            <strong>{email}</strong> will receive no more campaign emails.
          </Notice>
          <FormError message={undo.isError ? messageOf(undo.error) : undefined} />
          <p>Changed your mind?</p>
          <button type="button" className="ghost" disabled={busy} onClick={() => undo.mutate({ token })}>
            Undo: keep receiving them
          </button>
        </>
      )}
      {undone && (
        <>
          {undo.data.resubscribed
            ? (
              <Notice>
                <strong>{email}</strong> is subscribed again: campaign emails will keep coming.
              </Notice>
            )
            : (
              <FormError
                message={`${email} stays unsubscribed: mail to it bounced for good, so nothing will be sent there.`}
              />
            )}
          <button
            type="button"
            className="ghost"
            disabled={busy}
            onClick={() => unsubscribe.mutate({ token })}
          >
            Unsubscribe after all
          </button>
        </>
      )}
      <p className="aside">
        Members choose what they receive by the tags they follow: <Link to="/mail">your mail</Link>.
      </p>
    </section>
  );
}
