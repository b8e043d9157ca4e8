/**
 * Member suggestions and the admin decisions on them. A suggestion stays in its own table
 * until approved (a tag is created) or mapped (its name becomes an alias); every decision is
 * audited and published to WatchSuggestions after it commits.
 */
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { type Suggestion, SuggestionEventKind, type TagService } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { BoundedQueue } from "./_bounded_queue.ts";
import {
  statusFilterWord,
  suggestionFromRow,
  type SuggestionRow,
  tagFromRow,
  type TagTypeWord,
  typeWord,
} from "./_convert.ts";
import {
  nameKey,
  REASON_MAX_CHARS,
  validateId,
  validateName,
  validateOptionalId,
  validateText,
} from "./_names.ts";
import { decodePageToken, LIST_PAGE, pageOf, pageSize } from "../kit/paging.ts";
import {
  actorOf,
  alreadyExists,
  audit,
  failedPrecondition,
  inTransaction,
  notFound,
  nowOf,
  reading,
  type TagHandlerDeps,
} from "./_shared.ts";
import { createTagLocked, requireTag } from "./_tag_handlers.ts";
import { requireUser } from "../auth/caller.ts";
import {
  type Db,
  insertAlias,
  lockTagTree,
  lockTagTreeShared,
  selectNameOwner,
  selectTagById,
  selectTagByNameKey,
  touchTag,
} from "./queries.ts";
import {
  decideSuggestion,
  insertSuggester,
  listSuggestions,
  listSuggestionsOfUser,
  selectSuggestion,
  selectSuggestionForUpdate,
  upsertPendingSuggestion,
} from "./suggestion_queries.ts";
import type { SuggestionEvent } from "./suggestion_feed.ts";

type SuggestionImpl = Pick<
  ServiceImpl<typeof TagService>,
  | "suggestTag"
  | "listSuggestions"
  | "approveSuggestion"
  | "mapSuggestion"
  | "rejectSuggestion"
  | "watchSuggestions"
  | "listMySuggestions"
>;

// Pending suggestions are sent to a new watcher in pages of this many, so a long queue is never held at once.
const EXISTING_PAGE = 500;

/** The pending suggestion with `id`, locked for the decision. */
async function requirePending(tx: Db, id: string): Promise<SuggestionRow> {
  const row = await selectSuggestionForUpdate(tx, id);
  if (!row) throw notFound(`id ${id} names no suggestion: list suggestions to find its id`);
  if (row.status !== "pending") {
    throw failedPrecondition(
      `suggestion "${row.name}" is already ${row.status}: only pending suggestions can be decided`,
    );
  }
  return row;
}

export function suggestionHandlers(deps: TagHandlerDeps): SuggestionImpl {
  const { sql, clock, log, bus } = deps;

  /** Publishing follows the commit; a failure loses one live event, never the decision, so it is logged only. */
  const publish = async (kind: SuggestionEvent["kind"], suggestion: Suggestion) => {
    try {
      await bus.publish({ kind, suggestion });
    } catch (error) {
      log.warn("suggestion event not published: watchers miss it until they reconnect", {
        suggestion_id: suggestion.id,
        error,
      });
    }
  };

  /** Audits a decision and reads the suggestion as it now is. */
  const decided = async (
    tx: Db,
    ctx: HandlerContext,
    id: string,
    action: string,
    details: Record<string, unknown>,
  ) => {
    await audit(tx, ctx, clock, action, id, details);
    return (await selectSuggestion(tx, id))!;
  };

  return {
    async suggestTag(req, ctx) {
      const user = requireUser(ctx);
      const { name, key } = validateName("name", req.name);
      const type = typeWord("type", req.type);
      const parentId = validateOptionalId("parent_id", req.parentId);
      const reason = validateText("reason", req.reason, REASON_MAX_CHARS);
      const result = await inTransaction(sql, async (tx) => {
        // Shared: suggestions do not block each other, but a concurrent approval, rename or
        // alias cannot slip between the "is it already a tag?" check and the insert.
        await lockTagTreeShared(tx);
        const existing = await selectTagByNameKey(tx, key);
        if (existing) return { existing };
        if (parentId !== null) await requireTag(tx, "parent_id", parentId);
        const at = nowOf(clock);
        const { id, created } = await upsertPendingSuggestion(tx, { name, key, type, parentId, reason, at });
        const newSuggester = await insertSuggester(tx, id, user.userId, reason, at);
        if (created || newSuggester) {
          await audit(tx, ctx, clock, created ? "tag.suggestion.create" : "tag.suggestion.merge", id, {
            name,
            type,
          });
        }
        return { suggestion: (await selectSuggestion(tx, id))!, changed: created || newSuggester };
      });
      if (result.existing) return { result: { case: "existingTag", value: tagFromRow(result.existing) } };
      const suggestion = suggestionFromRow(result.suggestion);
      if (result.changed) await publish(SuggestionEventKind.SUGGESTED, suggestion);
      return { result: { case: "suggestion", value: suggestion } };
    },

    async listSuggestions(req) {
      const limit = pageSize(req.pageSize, LIST_PAGE);
      const status = statusFilterWord("status", req.status);
      const query = { list: "suggestions", filters: { status } };
      const after = decodePageToken(req.pageToken, query, ["digits"]);
      const rows = await reading(() => listSuggestions(sql, status, (after?.[0] as string) ?? null, limit));
      const { page, nextPageToken } = pageOf(rows, limit, query, (row) => [row.seq]);
      return { suggestions: page.map(suggestionFromRow), nextPageToken };
    },

    async listMySuggestions(req, ctx) {
      const user = requireUser(ctx);
      const limit = pageSize(req.pageSize, LIST_PAGE);
      // The user is part of the query, so one member's token is refused for another.
      const query = { list: "my-suggestions", filters: { mine: user.userId } };
      const before = decodePageToken(req.pageToken, query, ["digits"]);
      const rows = await reading(() =>
        listSuggestionsOfUser(sql, user.userId, (before?.[0] as string) ?? null, limit)
      );
      const { page, nextPageToken } = pageOf(rows, limit, query, (row) => [row.my_seq]);
      return {
        suggestions: page.map((row) => suggestionFromRow({ ...row, suggested_by: [user.userId] })),
        nextPageToken,
      };
    },

    async approveSuggestion(req, ctx) {
      const id = validateId("id", req.id);
      const nameEdit = req.name === undefined ? undefined : validateName("name", req.name);
      const typeEdit = req.type === undefined ? undefined : typeWord("type", req.type);
      const parentEdit = req.parentId === undefined
        ? undefined
        : validateOptionalId("parent_id", req.parentId);
      const actor = actorOf(ctx);
      const { row, tag } = await inTransaction(sql, async (tx) => {
        await lockTagTree(tx);
        const s = await requirePending(tx, id);
        const name = nameEdit ?? validateName("name", s.name);
        const at = nowOf(clock);
        const tag = await createTagLocked(tx, {
          name: name.name,
          key: name.key,
          type: typeEdit ?? (s.type as TagTypeWord),
          parentId: parentEdit !== undefined ? parentEdit : s.parent_id,
          description: "",
          by: actor.id,
          at,
          fields: { name: nameEdit ? "name" : "the suggested name", parentId: "parent_id" },
        });
        await decideSuggestion(tx, id, {
          status: "approved",
          tagId: tag.id,
          decidedBy: actor.id,
          rejectionReason: null,
          at,
        });
        const row = await decided(tx, ctx, id, "tag.suggestion.approve", {
          name: s.name,
          tag_id: tag.id,
          ...(nameEdit ? { edited_name: nameEdit.name } : {}),
          ...(typeEdit ? { edited_type: typeEdit } : {}),
          ...(parentEdit !== undefined ? { edited_parent_id: parentEdit } : {}),
        });
        return { row, tag };
      });
      const suggestion = suggestionFromRow(row);
      await publish(SuggestionEventKind.DECIDED, suggestion);
      return { suggestion, tag: tagFromRow(tag) };
    },

    async mapSuggestion(req, ctx) {
      const id = validateId("id", req.id);
      const tagId = validateId("tag_id", req.tagId);
      const actor = actorOf(ctx);
      const { row, tag } = await inTransaction(sql, async (tx) => {
        await lockTagTree(tx);
        const s = await requirePending(tx, id);
        const target = await requireTag(tx, "tag_id", tagId);
        const key = nameKey(s.name);
        const owner = await selectNameOwner(tx, key);
        const at = nowOf(clock);
        if (owner && owner.tag_id !== tagId) {
          throw alreadyExists(
            `the suggested name "${s.name}" already belongs to tag "${owner.tag_name}": map the suggestion onto that tag`,
          );
        }
        // Already a name of the target (it was added after the suggestion): nothing to add.
        if (!owner) {
          await insertAlias(tx, tagId, s.name, key, at);
          await touchTag(tx, tagId, actor.id, at);
        }
        await decideSuggestion(tx, id, {
          status: "mapped",
          tagId,
          decidedBy: actor.id,
          rejectionReason: null,
          at,
        });
        const row = await decided(tx, ctx, id, "tag.suggestion.map", {
          name: s.name,
          tag_id: tagId,
          tag: target.name,
        });
        return { row, tag: (await selectTagById(tx, tagId))! };
      });
      const suggestion = suggestionFromRow(row);
      await publish(SuggestionEventKind.DECIDED, suggestion);
      return { suggestion, tag: tagFromRow(tag) };
    },

    async rejectSuggestion(req, ctx) {
      const id = validateId("id", req.id);
      const reason = validateText("reason", req.reason, REASON_MAX_CHARS);
      if (reason === "") {
        throw new ConnectError("reason is empty: say why the suggestion is rejected", Code.InvalidArgument);
      }
      const actor = actorOf(ctx);
      const row = await inTransaction(sql, async (tx) => {
        const s = await requirePending(tx, id);
        const at = nowOf(clock);
        await decideSuggestion(tx, id, {
          status: "rejected",
          tagId: null,
          decidedBy: actor.id,
          rejectionReason: reason,
          at,
        });
        return await decided(tx, ctx, id, "tag.suggestion.reject", { name: s.name, reason });
      });
      const suggestion = suggestionFromRow(row);
      await publish(SuggestionEventKind.DECIDED, suggestion);
      return { suggestion };
    },

    /**
     * Listens first, then sends the pending suggestions (EXISTING), then the live events, so
     * nothing decided or suggested in between is missed (at worst a suggestion shows up both
     * as EXISTING and as a later event). A watcher more than `watchBuffer` events behind is
     * cut off with ResourceExhausted; the stream ends when the server shuts down.
     */
    async *watchSuggestions(_req, ctx) {
      const queue = new BoundedQueue<SuggestionEvent>(deps.watchBuffer, ctx.signal, () =>
        new ConnectError(
          `this watch fell more than ${deps.watchBuffer} events behind: reconnect, the stream starts again with the pending suggestions`,
          Code.ResourceExhausted,
        ));
      // A cut-off watcher stops listening at once; the error reaches the client when it next reads.
      let stop: (() => void) | undefined;
      let stopped = false;
      const unsubscribe = () => {
        if (stopped || !stop) return;
        stopped = true;
        stop();
      };
      try {
        stop = await bus.subscribe(
          (event) => {
            if (!queue.push(event)) unsubscribe();
          },
          () =>
            queue.fail(
              new ConnectError(
                "the live suggestion feed was interrupted and events may be missing: reconnect to resynchronise",
                Code.Unavailable,
              ),
            ),
        );
      } catch (error) {
        throw new ConnectError(
          "could not start watching suggestions: try again",
          Code.Unavailable,
          undefined,
          undefined,
          error,
        );
      }
      try {
        let after: string | null = null;
        while (!ctx.signal.aborted) {
          const rows = await reading(() => listSuggestions(sql, "pending", after, EXISTING_PAGE));
          for (const row of rows.slice(0, EXISTING_PAGE)) {
            yield { kind: SuggestionEventKind.EXISTING, suggestion: suggestionFromRow(row) };
          }
          if (rows.length <= EXISTING_PAGE) break;
          after = rows[EXISTING_PAGE - 1].seq;
        }
        for await (const event of queue) {
          yield { kind: event.kind, suggestion: event.suggestion };
        }
      } finally {
        queue.close();
        unsubscribe();
      }
    },
  };
}
