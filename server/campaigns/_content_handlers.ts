/** The content library: create, update, read, list, delete, import. */
import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { CampaignService, ContentItem } from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { decodePageToken, pageOf, pageSize } from "../kit/paging.ts";
import { invalid, text, uuid } from "../kit/validate.ts";
import { contentItemOf } from "./_convert.ts";
import type { HandlerDeps } from "./_deps.ts";
import {
  type ContentFields,
  type ContentRow,
  deleteContentItem,
  listContentItems,
  missingTags,
  selectContentItem,
  updateContentItem,
  upsertContentItem,
} from "./content_queries.ts";
import { renderMarkdown } from "./markdown.ts";

type Impl = Pick<
  ServiceImpl<typeof CampaignService>,
  | "createContentItem"
  | "updateContentItem"
  | "getContentItem"
  | "listContentItems"
  | "deleteContentItem"
  | "importContentItems"
>;

const MAX_IMPORT = 1000;
const MAX_MARKDOWN = 64 * 1024;

function metadataFrom(field: string, m: Record<string, string>): Record<string, string> {
  const entries = Object.entries(m);
  if (entries.length > 20) throw invalid(field, `has ${entries.length} entries: the most is 20`);
  for (const [k, v] of entries) {
    text(`${field} key`, k, { min: 1, max: 64 });
    text(`${field}[${JSON.stringify(k.slice(0, 64))}]`, v, { max: 1000 });
  }
  return Object.fromEntries(entries);
}

function tagsFrom(field: string, ids: string[]): string[] {
  if (ids.length === 0) throw invalid(field, "is empty: tag the item so campaigns can match it");
  if (ids.length > 20) throw invalid(field, `names ${ids.length} tags: the most is 20`);
  return [...new Set(ids.map((id, i) => uuid(`${field}[${i}]`, id)))];
}

function fieldsOf(prefix: string, item: {
  key: string;
  title: string;
  bodyMarkdown: string;
  tagIds: string[];
  metadata: Record<string, string>;
}): ContentFields {
  const bodyMarkdown = text(`${prefix}body_markdown`, item.bodyMarkdown, { max: MAX_MARKDOWN, lines: true });
  return {
    key: text(`${prefix}key`, item.key, { max: 200 }) || null,
    title: text(`${prefix}title`, item.title.trim(), { min: 1, max: 200 }),
    bodyMarkdown,
    bodyHtml: renderMarkdown(bodyMarkdown),
    tagIds: tagsFrom(`${prefix}tag_ids`, item.tagIds),
    metadata: metadataFrom(`${prefix}metadata`, item.metadata),
  };
}

const missing = (id: string) =>
  new ConnectError(`content item ${id} does not exist: list the library to find its id`, Code.NotFound);

export function contentHandlers({ sql, clock }: HandlerDeps): Impl {
  async function checkTags(field: string, ids: string[]): Promise<void> {
    const unknown = await missingTags(sql, ids);
    if (unknown.length > 0) {
      throw new ConnectError(`${field} names tags that do not exist (${unknown.join(", ")})`, Code.NotFound);
    }
  }

  return {
    async createContentItem(req) {
      if (!req.item) throw invalid("item", "is required");
      const f = fieldsOf("item.", req.item);
      await checkTags("item.tag_ids", f.tagIds);
      if (f.key) {
        const [clash] = await sql`select 1 from content_items where key = ${f.key}`;
        if (clash) {
          throw new ConnectError(
            `an item with key "${f.key}" exists: import to update it`,
            Code.AlreadyExists,
          );
        }
      }
      const row = await upsertContentItem(sql, crypto.randomUUID(), f, new Date(clock.now()));
      return { item: contentItemOf(row) };
    },
    async updateContentItem(req) {
      const id = uuid("id", req.id);
      const old = await selectContentItem(sql, id);
      if (!old) throw missing(id);
      const f = fieldsOf("", {
        key: old.key ?? "",
        title: req.title ?? old.title,
        bodyMarkdown: req.bodyMarkdown ?? old.body_markdown,
        tagIds: req.replaceTags ? req.tagIds : old.tag_ids,
        metadata: req.replaceMetadata ? req.metadata : old.metadata,
      });
      await checkTags("tag_ids", f.tagIds);
      const row = await updateContentItem(sql, id, f, new Date(clock.now()));
      if (!row) throw missing(id);
      return { item: contentItemOf(row) };
    },
    async getContentItem(req) {
      const id = uuid("id", req.id);
      const row = await selectContentItem(sql, id);
      if (!row) throw missing(id);
      return { item: contentItemOf(row) };
    },
    async listContentItems(req) {
      const limit = pageSize(req.pageSize);
      const tagId = req.tagId ? uuid("tag_id", req.tagId) : null;
      const query = { list: "content_items", filters: { tagId } };
      const after = decodePageToken(req.pageToken, query, ["digits"]);
      const rows = await listContentItems(sql, tagId, (after?.[0] as string) ?? null, limit);
      const { page, nextPageToken } = pageOf(rows, limit, query, (r: ContentRow) => [String(r.seq)]);
      return { items: page.map(contentItemOf), nextPageToken };
    },
    async deleteContentItem(req) {
      await deleteContentItem(sql, uuid("id", req.id));
      return {};
    },
    async importContentItems(req) {
      if (req.items.length === 0) throw invalid("items", "is empty: give at least one item");
      if (req.items.length > MAX_IMPORT) {
        throw invalid("items", `holds ${req.items.length} items: import at most ${MAX_IMPORT} at once`);
      }
      const all = req.items.map((item: ContentItem, i) => {
        if (item.key === "") throw invalid(`items[${i}].key`, "is required on import: it matches updates");
        return fieldsOf(`items[${i}].`, item);
      });
      const keys = new Set<string>();
      all.forEach((f, i) => {
        if (keys.has(f.key!)) throw invalid(`items[${i}].key`, `repeats "${f.key}": keys must be unique`);
        keys.add(f.key!);
      });
      await checkTags("items[].tag_ids", [...new Set(all.flatMap((f) => f.tagIds))]);
      const now = new Date(clock.now());
      let created = 0;
      await sql.begin(async (tx) => {
        for (const f of all) {
          if ((await upsertContentItem(tx, crypto.randomUUID(), f, now)).inserted) created++;
        }
      });
      return { created, updated: all.length - created };
    },
  };
}
