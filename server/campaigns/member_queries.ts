/**
 * SQL for what a member does with their own mail: the deliveries sent to them (with the
 * content item each carried), and taking back an unsubscribe.
 */
import type postgres from "postgres";
import type { ContentRow } from "./content_queries.ts";

export type Db = postgres.ISql;

export interface MyDeliveryRow {
  id: string;
  campaign_id: string;
  campaign_name: string;
  run_time: Date;
  sent_at: Date;
  /** The item's columns, null when none was carried or it was deleted since. */
  item: ContentRow | null;
}

/** Sent deliveries to `userId`, newest first, after the keyset position (sent_at, id). */
export async function listMyDeliveries(
  db: Db,
  userId: string,
  after: [string, string] | null,
  limit: number,
): Promise<MyDeliveryRow[]> {
  return await db<MyDeliveryRow[]>`
    select d.id, d.campaign_id, c.name as campaign_name, r.run_time, d.sent_at,
      case when i.id is null then null else to_jsonb(i) end as item
    from campaign_deliveries d
    join campaign_runs r on r.id = d.run_id
    join campaigns c on c.id = d.campaign_id
    left join content_items i on i.id = d.content_item_id
    where d.user_id = ${userId} and d.state = 'sent'
      ${after ? db`and (d.sent_at, d.id) < (${after[0]}::timestamptz, ${after[1]}::uuid)` : db``}
    order by d.sent_at desc, d.id desc
    limit ${limit + 1}`;
}

/**
 * Lifts an unsubscribe of `emailKey`. A hard bounce stays. Returns whether the address
 * now receives campaign mail (true also when it was never suppressed).
 */
export async function liftUnsubscribe(db: Db, emailKey: string): Promise<boolean> {
  await db`delete from campaign_suppressions where email_key = ${emailKey} and reason = 'unsubscribed'`;
  const [left] = await db<{ reason: string }[]>`
    select reason from campaign_suppressions where email_key = ${emailKey}`;
  return left === undefined;
}
