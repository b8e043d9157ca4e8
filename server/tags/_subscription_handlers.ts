/**
 * Member subscriptions, and the audience campaigns resolve from them. A subscription to a
 * tag covers its descendants.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { TagService } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { requireUser } from "../auth/caller.ts";
import { tagFromRow } from "./_convert.ts";
import { validateId } from "./_names.ts";
import { decodePageToken, LIST_PAGE, type PageLimits, pageOf, pageSize } from "../kit/paging.ts";
import { audit, inTransaction, notFound, nowOf, reading, type TagHandlerDeps } from "./_shared.ts";
import { requireTag } from "./_tag_handlers.ts";
import { selectTagById } from "./queries.ts";
import {
  deleteSubscription,
  insertSubscription,
  listSubscriptionsOfUser,
  selectAudience,
} from "./subscription_queries.ts";

type SubscriptionImpl = Pick<
  ServiceImpl<typeof TagService>,
  "subscribe" | "unsubscribe" | "listMySubscriptions" | "resolveAudience"
>;

export const AUDIENCE_MAX_TAGS = 100;
export const AUDIENCE_PAGE: PageLimits = { default: 1000, max: 10_000 };

export function subscriptionHandlers(deps: TagHandlerDeps): SubscriptionImpl {
  const { sql, clock } = deps;
  return {
    async subscribe(req, ctx) {
      const user = requireUser(ctx);
      const tagId = validateId("tag_id", req.tagId);
      const { tag, createdAt } = await inTransaction(sql, async (tx) => {
        await requireTag(tx, "tag_id", tagId);
        const { created_at, created } = await insertSubscription(tx, user.userId, tagId, nowOf(clock));
        if (created) await audit(tx, ctx, clock, "tag.subscribe", tagId, { user_id: user.userId });
        return { tag: (await selectTagById(tx, tagId))!, createdAt: created_at };
      });
      return { subscription: { tag: tagFromRow(tag), createTime: timestampFromDate(createdAt) } };
    },

    /** Idempotent: unsubscribing from a tag one does not follow succeeds, so a retry is safe. */
    async unsubscribe(req, ctx) {
      const user = requireUser(ctx);
      const tagId = validateId("tag_id", req.tagId);
      await inTransaction(sql, async (tx) => {
        if (await deleteSubscription(tx, user.userId, tagId)) {
          await audit(tx, ctx, clock, "tag.unsubscribe", tagId, { user_id: user.userId });
        }
      });
      return {};
    },

    async listMySubscriptions(req, ctx) {
      const user = requireUser(ctx);
      const limit = pageSize(req.pageSize, LIST_PAGE);
      // The user is part of the query, so one member's token is refused for another.
      const query = { list: "subscriptions", filters: { user: user.userId } };
      const before = decodePageToken(req.pageToken, query, ["digits"]);
      const rows = await reading(() =>
        listSubscriptionsOfUser(sql, user.userId, (before?.[0] as string) ?? null, limit)
      );
      const { page, nextPageToken } = pageOf(rows, limit, query, (row) => [row.seq]);
      return {
        subscriptions: page.map((row) => ({
          tag: tagFromRow(row),
          createTime: timestampFromDate(row.subscribed_at),
        })),
        nextPageToken,
      };
    },

    /**
     * One statement counts the whole audience and returns a page of it. Without
     * include_descendants the audience is the subscribers of exactly these tags; with it,
     * also of their descendants and of their ancestors (whose subscriptions cover them), as
     * the proto says.
     */
    async resolveAudience(req) {
      if (req.tagIds.length === 0) {
        throw new ConnectError("tag_ids is empty: name at least one tag", Code.InvalidArgument);
      }
      if (req.tagIds.length > AUDIENCE_MAX_TAGS) {
        throw new ConnectError(
          `tag_ids names ${req.tagIds.length} tags: pass at most ${AUDIENCE_MAX_TAGS}`,
          Code.InvalidArgument,
        );
      }
      const tagIds = [...new Set(req.tagIds.map((id, i) => validateId(`tag_ids[${i}]`, id)))].sort();
      const limit = pageSize(req.pageSize, AUDIENCE_PAGE);
      const query = { list: "audience", filters: { tagIds, widen: req.includeDescendants } };
      const after = decodePageToken(req.pageToken, query, ["uuid"]);
      const row = await reading(() =>
        selectAudience(sql, tagIds, req.includeDescendants, (after?.[0] as string) ?? null, limit)
      );
      const missing = tagIds.filter((id) => !row.known_tags.includes(id));
      if (missing.length > 0) {
        throw notFound(
          `tag_ids names tags that do not exist (${missing.join(", ")}): drop them or list tags again`,
        );
      }
      const { page, nextPageToken } = pageOf(row.user_ids, limit, query, (userId) => [userId]);
      return { totalCount: BigInt(row.total), userIds: page, nextPageToken };
    },
  };
}
