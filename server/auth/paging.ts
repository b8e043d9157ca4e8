/**
 * Paging for the auth lists, on the paging kit: page_size defaults to 50 and is capped
 * at 1000; a token carries the last row's (created_at, id).
 */
import * as kit from "../kit/paging.ts";

export const DEFAULT_PAGE_SIZE = kit.LIST_PAGE.default;
export const MAX_PAGE_SIZE = kit.LIST_PAGE.max;

export interface PagePosition {
  createdAt: Date;
  id: string;
}

export function pageSize(requested: number): number {
  return kit.pageSize(requested);
}

/** `list` names the list the token belongs to, so a token from one list is refused by another. */
export function encodePageToken(list: string, position: PagePosition): string {
  return kit.encodePageToken({ list }, [position.createdAt.getTime(), position.id]);
}

export function decodePageToken(list: string, token: string): PagePosition | undefined {
  const position = kit.decodePageToken(token, { list }, ["int", "uuid"]);
  return position && { createdAt: new Date(position[0] as number), id: position[1] as string };
}

/** Given one row more than the page size was fetched, the page and the token for the next one. */
export function pageOf<T>(
  rows: T[],
  size: number,
  list: string,
  position: (row: T) => PagePosition,
): { items: T[]; nextPageToken: string } {
  const { page, nextPageToken } = kit.pageOf(rows, size, { list }, (row) => {
    const p = position(row);
    return [p.createdAt.getTime(), p.id];
  });
  return { items: page, nextPageToken };
}
