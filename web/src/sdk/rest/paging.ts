/** The REST page size the SDK uses when it pages on its own (the contract's maximum). */
export const MAX_PAGE = 200;

/** Every item of a cursor-paged list: calls `page(cursor)` until `next_cursor` is null. */
export async function allPages<T, P extends { next_cursor: string | null }>(
  page: (cursor: string | undefined) => Promise<P>,
  items: (p: P) => T[],
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const p = await page(cursor);
    const got = items(p);
    out.push(...got);
    cursor = got.length > 0 ? (p.next_cursor ?? undefined) : undefined;
  } while (cursor);
  return out;
}
