/**
 * The admin side of the catalogue: create, update, move, delete, aliases. Every handler
 * takes the tag-tree lock first (see lockTagTree), checks, writes and audits in one
 * transaction.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { ChildPolicy, type TagService } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { tagFromRow, type TagRow, type TagTypeWord, typeWord } from "./_convert.ts";
import {
  DESCRIPTION_MAX_CHARS,
  nameKey,
  pickSlug,
  slugBase,
  validateId,
  validateName,
  validateOptionalId,
  validateText,
} from "./_names.ts";
import {
  actorOf,
  alreadyExists,
  audit,
  failedPrecondition,
  inTransaction,
  notFound,
  nowOf,
  type TagHandlerDeps,
} from "./_shared.ts";
import {
  countChildren,
  type Db,
  deleteAlias,
  deleteTags,
  insertAlias,
  insertTag,
  lockTagTree,
  reparentChildren,
  selectAncestorPath,
  selectNameOwner,
  selectSubtreeIds,
  selectTagById,
  selectTakenSlugs,
  touchTag,
  updateTag,
  updateTagParent,
} from "./queries.ts";
import { deleteSubscriptionsOfTags } from "./subscription_queries.ts";

type TagAdminImpl = Pick<
  ServiceImpl<typeof TagService>,
  "createTag" | "updateTag" | "moveTag" | "deleteTag" | "addTagAlias" | "removeTagAlias"
>;

/** The tag with `id`, or NotFound naming `field`. */
export async function requireTag(db: Db, field: string, id: string): Promise<TagRow> {
  const row = await selectTagById(db, id);
  if (!row) throw notFound(`${field} ${id} names no tag: it may have been deleted; list tags to find its id`);
  return row;
}

/** AlreadyExists when `key` is a name or alias of a tag other than `exceptTagId`. */
export async function refuseTakenName(
  db: Db,
  field: string,
  name: string,
  key: string,
  exceptTagId?: string,
) {
  const owner = await selectNameOwner(db, key);
  if (!owner || owner.tag_id === exceptTagId) return;
  throw alreadyExists(
    owner.is_alias
      ? `${field} "${name}" is already an alias of tag "${owner.tag_name}": use that tag or pick another name`
      : `${field} "${name}" is already the tag "${owner.tag_name}": use that tag or pick another name`,
  );
}

export interface CreateTagInput {
  name: string;
  key: string;
  type: TagTypeWord;
  parentId: string | null;
  description: string;
  by: string;
  at: Date;
  /** Request fields to name in errors. */
  fields: { name: string; parentId: string };
}

/** Creates a tag; the caller holds the tree lock. Shared by CreateTag and ApproveSuggestion. */
export async function createTagLocked(tx: Db, input: CreateTagInput): Promise<TagRow> {
  await refuseTakenName(tx, input.fields.name, input.name, input.key);
  if (input.parentId !== null) await requireTag(tx, input.fields.parentId, input.parentId);
  const base = slugBase(input.name);
  const slug = pickSlug(base, await selectTakenSlugs(tx, base, null));
  const id = await insertTag(tx, { ...input, slug });
  return (await selectTagById(tx, id))!;
}

/** The slug after a rename: kept when it already derives from the new name, so links survive case fixes. */
async function slugAfterRename(tx: Db, tag: TagRow, newName: string): Promise<string> {
  const base = slugBase(newName);
  if (tag.slug === base || new RegExp(`^${base}-\\d+$`).test(tag.slug)) return tag.slug;
  return pickSlug(base, await selectTakenSlugs(tx, base, tag.id));
}

/** The names along a would-be cycle, e.g. ["Python", "Django", "Python"]. */
function cyclePath(tag: TagRow, pathUp: { id: string; name: string }[]): string[] | undefined {
  const at = pathUp.findIndex((step) => step.id === tag.id);
  if (at < 0) return undefined;
  return [...pathUp.slice(0, at + 1).reverse().map((step) => step.name), tag.name];
}

export function tagAdminHandlers(deps: TagHandlerDeps): TagAdminImpl {
  const { sql, clock } = deps;
  return {
    async createTag(req, ctx) {
      const { name, key } = validateName("name", req.name);
      const type = typeWord("type", req.type);
      const parentId = validateOptionalId("parent_id", req.parentId);
      const description = validateText("description", req.description, DESCRIPTION_MAX_CHARS);
      const actor = actorOf(ctx);
      const row = await inTransaction(sql, async (tx) => {
        await lockTagTree(tx);
        const row = await createTagLocked(tx, {
          name,
          key,
          type,
          parentId,
          description,
          by: actor.id,
          at: nowOf(clock),
          fields: { name: "name", parentId: "parent_id" },
        });
        await audit(tx, ctx, clock, "tag.create", row.id, { name, type, parent_id: parentId });
        return row;
      });
      return { tag: tagFromRow(row) };
    },

    async updateTag(req, ctx) {
      const id = validateId("id", req.id);
      const name = req.name === undefined ? undefined : validateName("name", req.name);
      const type = req.type === undefined ? undefined : typeWord("type", req.type);
      const description = req.description === undefined
        ? undefined
        : validateText("description", req.description, DESCRIPTION_MAX_CHARS);
      const actor = actorOf(ctx);
      const row = await inTransaction(sql, async (tx) => {
        await lockTagTree(tx);
        const tag = await requireTag(tx, "id", id);
        if (name === undefined && type === undefined && description === undefined) return tag;
        let rename;
        if (name !== undefined && name.name !== tag.name) {
          // A tag may take one of its own aliases as its name: the alias row gives way.
          await refuseTakenName(tx, "name", name.name, name.key, tag.id);
          rename = { ...name, slug: await slugAfterRename(tx, tag, name.name) };
        }
        await updateTag(tx, id, { name: rename, type, description, by: actor.id, at: nowOf(clock) });
        await audit(tx, ctx, clock, "tag.update", id, {
          ...(rename ? { name: { from: tag.name, to: rename.name }, slug: rename.slug } : {}),
          ...(type !== undefined ? { type: { from: tag.type, to: type } } : {}),
          ...(description !== undefined ? { description_changed: description !== tag.description } : {}),
        });
        return (await selectTagById(tx, id))!;
      });
      return { tag: tagFromRow(row) };
    },

    async moveTag(req, ctx) {
      const id = validateId("id", req.id);
      const newParentId = validateOptionalId("new_parent_id", req.newParentId);
      const actor = actorOf(ctx);
      const row = await inTransaction(sql, async (tx) => {
        await lockTagTree(tx);
        const tag = await requireTag(tx, "id", id);
        if (tag.parent_id === newParentId) return tag;
        if (newParentId !== null) {
          const pathUp = await selectAncestorPath(tx, newParentId);
          if (pathUp.length === 0) {
            throw notFound(`new_parent_id ${newParentId} names no tag: list tags to find the parent's id`);
          }
          const cycle = cyclePath(tag, pathUp);
          if (cycle) {
            throw failedPrecondition(
              `moving "${tag.name}" under "${pathUp[0].name}" would make a cycle: ${cycle.join(" → ")}: ` +
                `choose a parent outside the subtree of "${tag.name}"`,
            );
          }
        }
        await updateTagParent(tx, id, newParentId, actor.id, nowOf(clock));
        await audit(tx, ctx, clock, "tag.move", id, {
          from_parent_id: tag.parent_id,
          to_parent_id: newParentId,
        });
        return (await selectTagById(tx, id))!;
      });
      return { tag: tagFromRow(row) };
    },

    /**
     * Subscriptions to every deleted tag are deleted with it, in the same transaction, and
     * counted in removed_subscriptions. They are not moved to the parent: a member who
     * followed "Django" did not ask for all of "Python". Subscribers of surviving ancestors
     * keep covering whatever survives below them; re-parented children stay covered by the
     * subscriptions of their new ancestors.
     */
    async deleteTag(req, ctx) {
      const id = validateId("id", req.id);
      const policy = req.childPolicy;
      if (ChildPolicy[policy] === undefined) {
        throw new ConnectError(
          `child_policy is unknown (${policy}): pass CHILD_POLICY_UNSPECIFIED, CHILD_POLICY_REPARENT or CHILD_POLICY_DELETE_SUBTREE`,
          Code.InvalidArgument,
        );
      }
      const actor = actorOf(ctx);
      return await inTransaction(sql, async (tx) => {
        await lockTagTree(tx);
        const tag = await requireTag(tx, "id", id);
        let deletedIds = [id];
        let reparented: string[] = [];
        if (policy === ChildPolicy.DELETE_SUBTREE) {
          deletedIds = await selectSubtreeIds(tx, id);
        } else {
          const children = await countChildren(tx, id);
          if (children > 0 && policy !== ChildPolicy.REPARENT) {
            throw failedPrecondition(
              `tag "${tag.name}" has ${children} ${
                children === 1 ? "child" : "children"
              }: pass child_policy ` +
                `CHILD_POLICY_REPARENT to move them to its parent, or CHILD_POLICY_DELETE_SUBTREE to delete them too`,
            );
          }
          if (children > 0) {
            reparented = await reparentChildren(tx, id, tag.parent_id, actor.id, nowOf(clock));
          }
        }
        const removedSubscriptions = await deleteSubscriptionsOfTags(tx, deletedIds);
        await deleteTags(tx, deletedIds);
        await audit(tx, ctx, clock, "tag.delete", id, {
          name: tag.name,
          child_policy: ChildPolicy[policy],
          deleted_ids: deletedIds,
          reparented_ids: reparented,
          removed_subscriptions: removedSubscriptions,
        });
        return { deletedIds, removedSubscriptions };
      });
    },

    async addTagAlias(req, ctx) {
      const id = validateId("id", req.id);
      const alias = validateName("alias", req.alias);
      const actor = actorOf(ctx);
      const row = await inTransaction(sql, async (tx) => {
        await lockTagTree(tx);
        const tag = await requireTag(tx, "id", id);
        const owner = await selectNameOwner(tx, alias.key);
        // Already a name of this very tag (its name in another case, or an existing alias): nothing to add.
        if (owner?.tag_id === id) return tag;
        await refuseTakenName(tx, "alias", alias.name, alias.key);
        const at = nowOf(clock);
        await insertAlias(tx, id, alias.name, alias.key, at);
        await touchTag(tx, id, actor.id, at);
        await audit(tx, ctx, clock, "tag.alias.add", id, { alias: alias.name });
        return (await selectTagById(tx, id))!;
      });
      return { tag: tagFromRow(row) };
    },

    async removeTagAlias(req, ctx) {
      const id = validateId("id", req.id);
      const alias = validateName("alias", req.alias);
      const actor = actorOf(ctx);
      const row = await inTransaction(sql, async (tx) => {
        await lockTagTree(tx);
        const tag = await requireTag(tx, "id", id);
        if (!await deleteAlias(tx, id, nameKey(alias.name))) {
          throw notFound(
            `alias "${alias.name}" is not an alias of tag "${tag.name}": GetTag lists its aliases`,
          );
        }
        await touchTag(tx, id, actor.id, nowOf(clock));
        await audit(tx, ctx, clock, "tag.alias.remove", id, { alias: alias.name });
        return (await selectTagById(tx, id))!;
      });
      return { tag: tagFromRow(row) };
    },
  };
}
