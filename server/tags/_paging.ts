/**
 * Page sizes and opaque page tokens. A token carries the keyset position after the last
 * row returned and a fingerprint of the query it belongs to, so a token replayed against
 * different filters is refused rather than silently skipping rows.
 */
import { Code, ConnectError } from "@connectrpc/connect";

export interface PageLimits {
  default: number;
  max: number;
}

export const LIST_PAGE: PageLimits = { default: 50, max: 1000 };
export const AUDIENCE_PAGE: PageLimits = { default: 1000, max: 10_000 };

/** The page size to use: the default for 0, the cap for anything larger. */
export function pageSize(field: string, requested: number, limits: PageLimits): number {
  if (requested < 0) {
    throw new ConnectError(
      `${field} is negative: pass 0 for the default or up to ${limits.max}`,
      Code.InvalidArgument,
    );
  }
  if (requested === 0) return limits.default;
  return Math.min(requested, limits.max);
}

type Position = (string | number)[];

interface TokenBody {
  /** Fingerprint of the query's filters. */
  q: string;
  /** Keyset position: the sort key of the last row returned. */
  p: Position;
}

function fingerprint(query: unknown): string {
  // FNV-1a over the filters' JSON: short, and enough to tell one query from another.
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(JSON.stringify(query))) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(token: string): string {
  const binary = atob(token.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

export function encodePageToken(query: unknown, position: Position): string {
  const body: TokenBody = { q: fingerprint(query), p: position };
  return toBase64Url(JSON.stringify(body));
}

/**
 * The keyset position in `token`, or undefined for an empty token (the first page).
 * `shape` lists the expected type of each position element.
 */
export function decodePageToken(
  token: string,
  query: unknown,
  shape: readonly ("string" | "number")[],
): Position | undefined {
  if (token === "") return undefined;
  const bad = () =>
    new ConnectError(
      "page_token is not a token this list returned: pass next_page_token unchanged, or none for the first page",
      Code.InvalidArgument,
    );
  let body: TokenBody;
  try {
    body = JSON.parse(fromBase64Url(token));
  } catch {
    throw bad();
  }
  if (
    typeof body !== "object" || body === null || !Array.isArray(body.p) || body.p.length !== shape.length ||
    !body.p.every((v, i) => typeof v === shape[i])
  ) {
    throw bad();
  }
  if (body.q !== fingerprint(query)) {
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
  query: unknown,
  position: (row: T) => Position,
): { page: T[]; nextPageToken: string } {
  if (rows.length <= limit) return { page: [...rows], nextPageToken: "" };
  const page = rows.slice(0, limit);
  return { page, nextPageToken: encodePageToken(query, position(page[page.length - 1])) };
}
