/**
 * Reads of the catalogue, for any signed-in role. Each is one statement: lookups by key,
 * keyset-paged lists, and recursive walks of the hierarchy.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { TagService } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { tagFromRow, typeFilterWord } from "./_convert.ts";
import { namePrefixKey, normaliseSlug, validateId, validateName, validateOptionalId } from "./_names.ts";
import { decodePageToken, LIST_PAGE, pageOf, pageSize } from "./_paging.ts";
import { notFound, reading, type TagHandlerDeps } from "./_shared.ts";
import {
  listTags,
  selectAncestors,
  selectDescendants,
  selectTagById,
  selectTagByNameKey,
  selectTagBySlug,
  selectTree,
} from "./queries.ts";

type TagReadImpl = Pick<
  ServiceImpl<typeof TagService>,
  "getTag" | "listTags" | "getTree" | "listAncestors" | "listDescendants"
>;

/** GetTree's depth cap: deeper requests are served to this depth. */
export const TREE_MAX_DEPTH = 64;
/**
 * GetTree's size cap. The response is not paged, so this keeps it (about 150 bytes a node without
 * descriptions) under the 4 MiB many gRPC clients accept by default.
 */
export const TREE_MAX_NODES = 20_000;

export function tagReadHandlers(deps: TagHandlerDeps): TagReadImpl {
  const { sql } = deps;
  return {
    async getTag(req) {
      const key = req.key;
      switch (key.case) {
        case "id": {
          const id = validateId("id", key.value);
          const row = await reading(() => selectTagById(sql, id));
          if (!row) throw notFound(`no tag has id ${id}: it may have been deleted`);
          return { tag: tagFromRow(row) };
        }
        case "slug": {
          const slug = normaliseSlug(key.value);
          const row = await reading(() => selectTagBySlug(sql, slug));
          if (!row) {
            throw notFound(`no tag has slug "${slug}": check the spelling or look the tag up by name`);
          }
          return { tag: tagFromRow(row) };
        }
        case "name": {
          const name = validateName("name", key.value);
          const row = await reading(() => selectTagByNameKey(sql, name.key));
          if (!row) {
            throw notFound(
              `no tag is named "${name.name}", in any case or as an alias: suggest it with SuggestTag`,
            );
          }
          return { tag: tagFromRow(row) };
        }
        default:
          throw new ConnectError("key is not set: pass the tag's id, slug or name", Code.InvalidArgument);
      }
    },

    async listTags(req) {
      const limit = pageSize("page_size", req.pageSize, LIST_PAGE);
      const filters = {
        type: typeFilterWord("type", req.type),
        parentId: validateOptionalId("parent_id", req.parentId),
        rootsOnly: req.rootsOnly,
        prefix: namePrefixKey(req.namePrefix),
      };
      const after = decodePageToken(req.pageToken, filters, ["string"]);
      const rows = await reading(() => listTags(sql, filters, (after?.[0] as string) ?? null, limit));
      const { page, nextPageToken } = pageOf(rows, limit, filters, (row) => [row.name_key]);
      return { tags: page.map(tagFromRow), nextPageToken };
    },

    async getTree(req) {
      const rootId = validateOptionalId("root_id", req.rootId);
      if (req.maxDepth < 0) {
        throw new ConnectError(
          `max_depth is negative: pass 0 for no limit or a depth up to ${TREE_MAX_DEPTH}`,
          Code.InvalidArgument,
        );
      }
      const rows = await reading(() =>
        selectTree(sql, rootId, Math.min(req.maxDepth, TREE_MAX_DEPTH), TREE_MAX_NODES)
      );
      if (rows.length > TREE_MAX_NODES) {
        throw new ConnectError(
          `the tree has more than ${TREE_MAX_NODES} tags: ask for a subtree (root_id) or fewer levels (max_depth), ` +
            "or page with ListDescendants",
          Code.FailedPrecondition,
        );
      }
      if (rootId !== null && rows.length === 0) {
        throw notFound(`root_id ${rootId} names no tag: it may have been deleted`);
      }
      return {
        nodes: rows.map((row) => ({ tag: tagFromRow(row), depth: row.depth, childCount: row.child_count })),
      };
    },

    async listAncestors(req) {
      const id = validateId("id", req.id);
      const rows = await reading(() => selectAncestors(sql, id));
      if (rows.length === 0) throw notFound(`id ${id} names no tag: it may have been deleted`);
      return { tags: rows.slice(1).map(tagFromRow) };
    },

    async listDescendants(req) {
      const id = validateId("id", req.id);
      const limit = pageSize("page_size", req.pageSize, LIST_PAGE);
      const query = { id };
      const after = decodePageToken(req.pageToken, query, ["number", "string"]);
      const rows = await reading(() =>
        selectDescendants(
          sql,
          id,
          after ? { depth: after[0] as number, key: after[1] as string } : null,
          limit,
        )
      );
      if (rows.length === 0) throw notFound(`id ${id} names no tag: it may have been deleted`);
      const { page, nextPageToken } = pageOf(rows.slice(1), limit, query, (row) => [row.depth, row.name_key]);
      return { tags: page.map(tagFromRow), nextPageToken };
    },
  };
}
