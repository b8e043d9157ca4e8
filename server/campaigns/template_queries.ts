/** SQL of campaign templates. */
import type postgres from "postgres";

export type Db = postgres.ISql;

export interface TemplateRow {
  id: string;
  name: string;
  subject: string;
  html_body: string;
  text_body: string;
  created_at: Date;
  updated_at: Date;
}

export interface TemplateFields {
  name: string;
  subject: string;
  htmlBody: string;
  textBody: string;
}

/** Inserts a template; undefined when the name is taken. */
export async function insertTemplate(db: Db, id: string, t: TemplateFields, now: Date) {
  const [row] = await db<TemplateRow[]>`
    insert into campaign_templates (id, name, name_key, subject, html_body, text_body, created_at, updated_at)
    values (${id}, ${t.name}, ${t.name.toLowerCase()}, ${t.subject}, ${t.htmlBody}, ${t.textBody}, ${now}, ${now})
    on conflict (name_key) do nothing
    returning *`;
  return row as TemplateRow | undefined;
}

export async function selectTemplate(db: Db, id: string): Promise<TemplateRow | undefined> {
  const [row] = await db<TemplateRow[]>`select * from campaign_templates where id = ${id}`;
  return row;
}

/** Writes every field; undefined when the new name belongs to another template. */
export async function updateTemplate(db: Db, id: string, t: TemplateFields, now: Date) {
  const [clash] = await db`
    select 1 from campaign_templates where name_key = ${t.name.toLowerCase()} and id <> ${id}`;
  if (clash) return undefined;
  const [row] = await db<TemplateRow[]>`
    update campaign_templates set name = ${t.name}, name_key = ${t.name.toLowerCase()},
      subject = ${t.subject}, html_body = ${t.htmlBody}, text_body = ${t.textBody}, updated_at = ${now}
    where id = ${id} returning *`;
  return row;
}

export async function listTemplates(db: Db, afterName: string | null, limit: number): Promise<TemplateRow[]> {
  return await db<TemplateRow[]>`
    select * from campaign_templates where name_key > ${afterName ?? ""}
    order by name_key limit ${limit + 1}`;
}

/** "deleted", "missing", or "in_use" when a campaign sends it. */
export async function deleteTemplate(db: Db, id: string): Promise<"deleted" | "missing" | "in_use"> {
  const [used] = await db`select 1 from campaigns where template_id = ${id} limit 1`;
  if (used) return "in_use";
  const rows = await db`delete from campaign_templates where id = ${id} returning id`;
  return rows.length > 0 ? "deleted" : "missing";
}
