import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { TagService } from "../../../gen/taskmesh/tags/v1/tags_pb.ts";
import { FormError } from "../components/field.tsx";
import { messageOf } from "../errors.ts";
import { Link } from "../router.tsx";
import { invalidateSubscriptions } from "./tags.tsx";

/** What mail a member gets: the tags they follow. */
export function MailPage() {
  const subscriptions = useQuery(TagService.method.listMySubscriptions, { pageSize: 1000 });
  const client = useQueryClient();
  const unsubscribe = useMutation(TagService.method.unsubscribe, {
    onSuccess: () => invalidateSubscriptions(client),
  });
  const list = subscriptions.data?.subscriptions ?? [];
  return (
    <section className="card">
      <h1>Your mail</h1>
      <p>
        Campaigns, such as the daily challenge, are sent to members who follow their tags. You follow these
        (and everything below them):
      </p>
      {subscriptions.isError && <FormError message={messageOf(subscriptions.error)} />}
      {unsubscribe.isError && <FormError message={messageOf(unsubscribe.error)} />}
      {subscriptions.isSuccess && list.length === 0 && (
        <p data-testid="no-subscriptions">
          You follow no tags yet: <Link to="/tags">pick some</Link>.
        </p>
      )}
      <ul className="list" data-testid="subscriptions">
        {list.map((s) => (
          <li key={s.tag?.id}>
            <span>{s.tag?.name}</span>
            <button
              type="button"
              className="ghost small"
              disabled={unsubscribe.isPending}
              onClick={() => unsubscribe.mutate({ tagId: s.tag!.id })}
              aria-label={`Unsubscribe from ${s.tag?.name}`}
            >
              Unsubscribe
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
