/** Templates: create, update, read, list, delete, preview. */
import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { CampaignService } from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { decodePageToken, pageOf, pageSize } from "../kit/paging.ts";
import { invalid, text, uuid } from "../kit/validate.ts";
import { MAX_BODY_CHARS, templateOf } from "./_convert.ts";
import type { HandlerDeps } from "./_deps.ts";
import { selectContentItem } from "./content_queries.ts";
import { templateVariables } from "./delivery_mail.ts";
import {
  deleteTemplate,
  insertTemplate,
  listTemplates,
  selectTemplate,
  type TemplateFields,
  updateTemplate,
} from "./template_queries.ts";
import { parseTemplate, renderTemplate } from "./templates.ts";

type Impl = Pick<
  ServiceImpl<typeof CampaignService>,
  "createTemplate" | "updateTemplate" | "getTemplate" | "listTemplates" | "deleteTemplate" | "previewTemplate"
>;

function fields(prefix: string, t: TemplateFields): TemplateFields {
  const checked = {
    name: text(`${prefix}name`, t.name.trim(), { min: 1, max: 100 }),
    subject: text(`${prefix}subject`, t.subject, { min: 1, max: 200 }),
    htmlBody: text(`${prefix}html_body`, t.htmlBody, { min: 1, max: MAX_BODY_CHARS, lines: true }),
    textBody: text(`${prefix}text_body`, t.textBody, { max: MAX_BODY_CHARS, lines: true }),
  };
  parseTemplate(checked, prefix);
  return checked;
}

const taken = (name: string) =>
  new ConnectError(`a template named "${name}" exists: choose another name`, Code.AlreadyExists);
const missing = (id: string) =>
  new ConnectError(`template ${id} does not exist: list templates to find its id`, Code.NotFound);

export function templateHandlers({ sql, clock }: HandlerDeps): Impl {
  return {
    async createTemplate(req) {
      const t = req.template;
      if (!t) throw invalid("template", "is required");
      const f = fields("template.", t);
      const row = await insertTemplate(sql, crypto.randomUUID(), f, new Date(clock.now()));
      if (!row) throw taken(f.name);
      return { template: templateOf(row) };
    },
    async updateTemplate(req) {
      const id = uuid("id", req.id);
      const old = await selectTemplate(sql, id);
      if (!old) throw missing(id);
      const f = fields("", {
        name: req.name ?? old.name,
        subject: req.subject ?? old.subject,
        htmlBody: req.htmlBody ?? old.html_body,
        textBody: req.textBody ?? old.text_body,
      });
      const row = await updateTemplate(sql, id, f, new Date(clock.now()));
      if (!row) throw taken(f.name);
      return { template: templateOf(row) };
    },
    async getTemplate(req) {
      const id = uuid("id", req.id);
      const row = await selectTemplate(sql, id);
      if (!row) throw missing(id);
      return { template: templateOf(row) };
    },
    async listTemplates(req) {
      const limit = pageSize(req.pageSize);
      const query = { list: "templates" };
      const after = decodePageToken(req.pageToken, query, ["text"]);
      const rows = await listTemplates(sql, (after?.[0] as string) ?? null, limit);
      const { page, nextPageToken } = pageOf(rows, limit, query, (r) => [r.name.toLowerCase()]);
      return { templates: page.map(templateOf), nextPageToken };
    },
    async deleteTemplate(req) {
      const id = uuid("id", req.id);
      const result = await deleteTemplate(sql, id);
      if (result === "in_use") {
        throw new ConnectError(
          `template ${id} is used by a campaign: point the campaign at another template first`,
          Code.FailedPrecondition,
        );
      }
      return {};
    },
    async previewTemplate(req) {
      let source: TemplateFields;
      if (req.source.case === "templateId") {
        const row = await selectTemplate(sql, uuid("template_id", req.source.value));
        if (!row) throw missing(req.source.value);
        source = { name: row.name, subject: row.subject, htmlBody: row.html_body, textBody: row.text_body };
      } else if (req.source.case === "template") {
        const t = req.source.value;
        source = fields("template.", { ...t, name: t.name || "preview" });
      } else {
        throw invalid("source", "is required: give template_id or template");
      }
      text("variables_json", req.variablesJson, { max: 64 * 1024, lines: true });
      let extra: Record<string, unknown> = {};
      if (req.variablesJson.trim() !== "") {
        try {
          extra = JSON.parse(req.variablesJson);
        } catch {
          throw invalid(
            "variables_json",
            'is not JSON: give an object such as {"recipient": {"name": "Ada"}}',
          );
        }
        if (typeof extra !== "object" || extra === null || Array.isArray(extra)) {
          throw invalid("variables_json", "must be a JSON object");
        }
      }
      const item = req.contentItemId
        ? await selectContentItem(sql, uuid("content_item_id", req.contentItemId))
        : undefined;
      if (req.contentItemId && !item) {
        throw new ConnectError(`content item ${req.contentItemId} does not exist`, Code.NotFound);
      }
      const sample = templateVariables(
        { id: "00000000-0000-0000-0000-000000000000", name: "Preview" },
        { run_time: new Date(clock.now()) },
        { email: "ada@example.com", name: "Ada Lovelace", userId: "" },
        item,
        "https://example.com/unsubscribe?token=preview",
      );
      if (!item) {
        sample.item = {
          title: "A sample challenge",
          html: "<p>Reverse a linked list.</p>",
          tags: [],
          metadata: {},
        };
      }
      const rendered = renderTemplate(parseTemplate(source), { ...sample, ...extra });
      return { subject: rendered.subject, htmlBody: rendered.html, textBody: rendered.text };
    },
  };
}
