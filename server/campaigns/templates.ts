/**
 * Campaign templates in LiquidJS, sandboxed: a template sees only the variables it is
 * given (own properties only, so no prototype walk), includes and layouts are gone (no
 * file system), and parsing, rendering and memory are bounded so a runaway template
 * fails its render instead of stalling the server. HTML bodies escape every output;
 * subjects and text bodies do not (they are not HTML). A text body left empty is made
 * from the rendered HTML.
 */
import { Liquid, type Template as LiquidTemplate } from "liquidjs";
import { compile } from "html-to-text";
import { Code, ConnectError } from "@connectrpc/connect";

/** Characters a template may hold before it is parsed. */
const PARSE_LIMIT = 300_000;
/** Milliseconds one render may take. */
export const RENDER_LIMIT_MS = 200;
/** Memory units (characters, array items) one render may allocate. */
const MEMORY_LIMIT = 4_000_000;

function engine(escapeHtml: boolean): Liquid {
  const liquid = new Liquid({
    ownPropertyOnly: true,
    parseLimit: PARSE_LIMIT,
    renderLimit: RENDER_LIMIT_MS,
    memoryLimit: MEMORY_LIMIT,
    strictFilters: true,
    // An in-memory (empty) template map: no file is ever read.
    templates: {},
    ...(escapeHtml ? { outputEscape: "escape" as const } : {}),
  });
  for (const tag of ["include", "render", "layout"]) delete (liquid.tags as Record<string, unknown>)[tag];
  return liquid;
}

const plain = engine(false);
const html = engine(true);

/** The three parts of a template, parsed. */
export interface ParsedTemplate {
  subject: LiquidTemplate[];
  html: LiquidTemplate[];
  /** Absent when the text is generated from the HTML. */
  text?: LiquidTemplate[];
}

export interface TemplateSource {
  subject: string;
  htmlBody: string;
  textBody: string;
}

export interface RenderedMail {
  subject: string;
  html: string;
  text: string;
}

/** A parse or render failure as the RPC error naming the field, the line and the column. */
function templateError(field: string, error: unknown, what: "syntax" | "render"): ConnectError {
  const token = (error as { token?: { getPosition?: () => [number, number] } }).token;
  const [line, col] = token?.getPosition?.() ?? [0, 0];
  const original = error instanceof Error ? error.message.replace(/, line:\d+, col:\d+$/, "") : String(error);
  const where = line > 0 ? ` at line ${line}, column ${col}` : "";
  const problem = what === "syntax"
    ? `has a syntax error${where}: ${original.slice(0, 300)}; fix the template and save again`
    : `failed to render${where}: ${original.slice(0, 300)}`;
  return new ConnectError(
    `${field} ${problem}`,
    what === "syntax" ? Code.InvalidArgument : Code.FailedPrecondition,
  );
}

function parseOne(liquid: Liquid, field: string, source: string): LiquidTemplate[] {
  try {
    return liquid.parse(source);
  } catch (error) {
    throw templateError(field, error, "syntax");
  }
}

/** Parses all three parts; a syntax error is INVALID_ARGUMENT naming the field, line and column. */
export function parseTemplate(source: TemplateSource, prefix = "template."): ParsedTemplate {
  return {
    subject: parseOne(plain, `${prefix}subject`, source.subject),
    html: parseOne(html, `${prefix}html_body`, source.htmlBody),
    ...(source.textBody.trim() !== ""
      ? { text: parseOne(plain, `${prefix}text_body`, source.textBody) }
      : {}),
  };
}

function renderOne(liquid: Liquid, field: string, parsed: LiquidTemplate[], vars: object): string {
  try {
    return liquid.renderSync(parsed, vars);
  } catch (error) {
    throw templateError(field, error, "render");
  }
}

/**
 * The HTML-to-text converter, compiled once: `convert` compiles its options (selector
 * decision tree) on every call, which was a sixth of the server's CPU in a campaign.
 */
const htmlToText = compile({ wordwrap: 78, selectors: [{ selector: "img", format: "skip" }] });

/** Text for mail clients without HTML, made from the rendered HTML. */
export function textFromHtml(markup: string): string {
  return htmlToText(markup).trim();
}

/** Renders a parsed template; a render limit or runtime error is FAILED_PRECONDITION. */
export function renderTemplate(parsed: ParsedTemplate, vars: object): RenderedMail {
  const subject = renderOne(plain, "subject", parsed.subject, vars).replace(/[\r\n]+/g, " ").trim();
  const body = renderOne(html, "html_body", parsed.html, vars);
  const text = parsed.text ? renderOne(plain, "text_body", parsed.text, vars) : textFromHtml(body);
  return { subject, html: body, text };
}
