/**
 * Rows as the queries return them, and their protobuf form. The database stores enums as
 * readable words ("language", "pending") so SQL and audit rows can be read without the proto.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Suggestion,
  SuggestionSchema,
  SuggestionStatus,
  type Tag,
  TagSchema,
  TagType,
} from "../../gen/taskmesh/tags/v1/tags_pb.ts";

export type TagTypeWord = "language" | "skill_level" | "topic" | "framework" | "tool" | "domain" | "concept";
export type SuggestionStatusWord = "pending" | "approved" | "mapped" | "rejected";

const TYPE_WORDS: Record<Exclude<TagType, TagType.UNSPECIFIED>, TagTypeWord> = {
  [TagType.LANGUAGE]: "language",
  [TagType.SKILL_LEVEL]: "skill_level",
  [TagType.TOPIC]: "topic",
  [TagType.FRAMEWORK]: "framework",
  [TagType.TOOL]: "tool",
  [TagType.DOMAIN]: "domain",
  [TagType.CONCEPT]: "concept",
};

const STATUS_WORDS: Record<Exclude<SuggestionStatus, SuggestionStatus.UNSPECIFIED>, SuggestionStatusWord> = {
  [SuggestionStatus.PENDING]: "pending",
  [SuggestionStatus.APPROVED]: "approved",
  [SuggestionStatus.MAPPED]: "mapped",
  [SuggestionStatus.REJECTED]: "rejected",
};

/** The stored word for a type; UNSPECIFIED and unknown numbers are refused naming `field`. */
export function typeWord(field: string, type: TagType): TagTypeWord {
  const word = TYPE_WORDS[type as keyof typeof TYPE_WORDS];
  if (word === undefined) {
    throw new ConnectError(
      `${field} is ${type === TagType.UNSPECIFIED ? "not set" : `unknown (${type})`}: pass one of ${
        Object.values(TYPE_WORDS).join(", ")
      }`,
      Code.InvalidArgument,
    );
  }
  return word;
}

/** The stored word for a type filter; UNSPECIFIED means no filter. */
export function typeFilterWord(field: string, type: TagType): TagTypeWord | null {
  return type === TagType.UNSPECIFIED ? null : typeWord(field, type);
}

export function tagTypeOf(word: string): TagType {
  for (const [num, w] of Object.entries(TYPE_WORDS)) if (w === word) return Number(num) as TagType;
  return TagType.UNSPECIFIED;
}

/** The stored word for a status filter; UNSPECIFIED means any status. */
export function statusFilterWord(field: string, status: SuggestionStatus): SuggestionStatusWord | null {
  if (status === SuggestionStatus.UNSPECIFIED) return null;
  const word = STATUS_WORDS[status as keyof typeof STATUS_WORDS];
  if (word === undefined) {
    throw new ConnectError(
      `${field} is unknown (${status}): pass a SuggestionStatus value`,
      Code.InvalidArgument,
    );
  }
  return word;
}

export function suggestionStatusOf(word: string): SuggestionStatus {
  for (const [num, w] of Object.entries(STATUS_WORDS)) if (w === word) return Number(num) as SuggestionStatus;
  return SuggestionStatus.UNSPECIFIED;
}

export interface TagRow {
  id: string;
  name: string;
  name_key: string;
  slug: string;
  type: string;
  parent_id: string | null;
  description: string;
  aliases: string[];
  created_by: string;
  updated_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface SuggestionRow {
  id: string;
  seq: string;
  name: string;
  type: string;
  parent_id: string | null;
  reason: string;
  suggested_by: string[];
  status: string;
  tag_id: string | null;
  decided_by: string | null;
  rejection_reason: string | null;
  created_at: Date;
  decided_at: Date | null;
}

export function tagFromRow(row: TagRow): Tag {
  return create(TagSchema, {
    id: row.id,
    name: row.name,
    slug: row.slug,
    type: tagTypeOf(row.type),
    parentId: row.parent_id ?? "",
    description: row.description,
    aliases: row.aliases,
    createdBy: row.created_by,
    updatedBy: row.updated_by,
    createTime: timestampFromDate(row.created_at),
    updateTime: timestampFromDate(row.updated_at),
  });
}

export function suggestionFromRow(row: SuggestionRow): Suggestion {
  return create(SuggestionSchema, {
    id: row.id,
    name: row.name,
    type: tagTypeOf(row.type),
    parentId: row.parent_id ?? "",
    reason: row.reason,
    suggestedBy: row.suggested_by,
    status: suggestionStatusOf(row.status),
    tagId: row.tag_id ?? "",
    decidedBy: row.decided_by ?? "",
    rejectionReason: row.rejection_reason ?? "",
    createTime: timestampFromDate(row.created_at),
    decideTime: row.decided_at ? timestampFromDate(row.decided_at) : undefined,
  });
}
