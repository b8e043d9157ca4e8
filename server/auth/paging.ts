/**
 * Paging for the auth lists: page_size defaults to 50 and is capped at 1000; the page
 * token is an opaque, versioned encoding of the last row's sort position.
 */
import { base64url } from "jose";
import { invalidArgument } from "./validate.ts";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

export interface PagePosition {
  createdAt: Date;
  id: string;
}

export function pageSize(requested: number): number {
  if (requested < 0) {
    throw invalidArgument("page_size", "must not be negative: leave it 0 for the default of 50");
  }
  if (requested === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(requested, MAX_PAGE_SIZE);
}

/** `list` names the list the token belongs to, so a token from one list is refused by another. */
export function encodePageToken(list: string, position: PagePosition): string {
  const json = JSON.stringify({ v: 1, l: list, t: position.createdAt.getTime(), i: position.id });
  return base64url.encode(new TextEncoder().encode(json));
}

export function decodePageToken(list: string, token: string): PagePosition | undefined {
  if (token === "") return undefined;
  try {
    const parsed = JSON.parse(new TextDecoder().decode(base64url.decode(token)));
    if (
      parsed.v === 1 && parsed.l === list && Number.isSafeInteger(parsed.t) && typeof parsed.i === "string"
    ) {
      return { createdAt: new Date(parsed.t), id: parsed.i };
    }
  } catch {
    // Falls through to the error below.
  }
  throw invalidArgument(
    "page_token",
    "is not valid: pass next_page_token from the previous response unchanged",
  );
}

/** Given one row more than the page size was fetched, the page and the token for the next one. */
export function pageOf<T>(
  rows: T[],
  size: number,
  list: string,
  position: (row: T) => PagePosition,
): { items: T[]; nextPageToken: string } {
  if (rows.length <= size) return { items: rows, nextPageToken: "" };
  const items = rows.slice(0, size);
  return { items, nextPageToken: encodePageToken(list, position(items[items.length - 1])) };
}
