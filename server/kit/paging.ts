/**
 * Page sizes and page tokens for every list RPC. A token is opaque to clients: base64url
 * of a versioned body naming the list it belongs to, a fingerprint of the query's filters
 * and the keyset position after the last row returned. Decoding checks all of it, and
 * each position element against its kind, so a token made up by a client (or from
 * another list, or other filters) is InvalidArgument "page_token", never a string that
 * reaches SQL as something it is not.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { CONTROL, invalid, UUID } from "./validate.ts";

export interface PageLimits {
  default: number;
  max: number;
}

export const LIST_PAGE: PageLimits = { default: 50, max: 1000 };

/** The page size to use: the default for 0, the cap for anything larger. */
export function pageSize(requested: number, limits: PageLimits = LIST_PAGE, field = "page_size"): number {
  if (requested < 0) {
    throw invalid(field, `is negative: pass 0 for the default of ${limits.default}, or up to ${limits.max}`);
  }
  if (requested === 0) return limits.default;
  return Math.min(requested, limits.max);
}

/**
 * What one element of a position may be: `int` a safe integer, `digits` a decimal integer
 * in a string (a bigint sequence), `uuid` an id, `text` a string of at most 1024
 * characters without control characters.
 */
export type PositionKind = "int" | "digits" | "uuid" | "text";
export type Position = (string | number)[];

export interface PageQuery {
  /** Which list ("tasks", "queues"…): a token from one list is refused by another. */
  list: string;
  /** The filters: a token is refused when they changed while paging. */
  filters?: unknown;
}

const VERSION = 1;
const MAX_TOKEN_CHARS = 4096;

interface TokenBody {
  v: number;
  l: string;
  q: string;
  p: Position;
}

function fingerprint(filters: unknown): string {
  // FNV-1a over the filters' JSON: short, and enough to tell one query from another.
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(JSON.stringify(filters ?? null))) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

function toBase64Url(text: string): string {
  let binary = "";
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(token: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(token)) throw new Error("not base64url");
  const binary = atob(token.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

function fits(value: unknown, kind: PositionKind): boolean {
  switch (kind) {
    case "int":
      return Number.isSafeInteger(value);
    case "digits":
      return typeof value === "string" && /^-?[0-9]{1,19}$/.test(value);
    case "uuid":
      return typeof value === "string" && UUID.test(value);
    case "text":
      return typeof value === "string" && value.length <= 1024 && !CONTROL.test(value);
  }
}

export function encodePageToken(query: PageQuery, position: Position): string {
  const body: TokenBody = { v: VERSION, l: query.list, q: fingerprint(query.filters), p: position };
  return toBase64Url(JSON.stringify(body));
}

const notOurs = () =>
  new ConnectError(
    "page_token is not a token this list returned: pass next_page_token unchanged, or none for the first page",
    Code.InvalidArgument,
  );

/** The keyset position in `token`, or undefined for an empty token (the first page). */
export function decodePageToken(
  token: string,
  query: PageQuery,
  shape: readonly PositionKind[],
): Position | undefined {
  if (token === "") return undefined;
  if (token.length > MAX_TOKEN_CHARS) throw notOurs();
  let body: TokenBody;
  try {
    body = JSON.parse(fromBase64Url(token));
  } catch {
    throw notOurs();
  }
  if (
    typeof body !== "object" || body === null || body.v !== VERSION || body.l !== query.list ||
    !Array.isArray(body.p) || body.p.length !== shape.length || !body.p.every((v, i) => fits(v, shape[i]))
  ) {
    throw notOurs();
  }
  if (body.q !== fingerprint(query.filters)) {
    throw new ConnectError(
      "page_token belongs to a list with other filters: keep the filters unchanged while paging, or start again without a token",
      Code.InvalidArgument,
    );
  }
  return body.p;
}

/**
 * Splits `rows` fetched with `limit + 1` into the page and the next token; the extra row
 * only says whether there is more.
 */
export function pageOf<T>(
  rows: readonly T[],
  limit: number,
  query: PageQuery,
  position: (row: T) => Position,
): { page: T[]; nextPageToken: string } {
  if (rows.length <= limit) return { page: [...rows], nextPageToken: "" };
  const page = rows.slice(0, limit);
  return { page, nextPageToken: encodePageToken(query, position(page[page.length - 1])) };
}
