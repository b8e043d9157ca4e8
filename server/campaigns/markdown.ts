/**
 * A content item's Markdown as safe HTML: markdown-it with raw HTML off (so `<script>`
 * in Markdown comes out as text), then an allow-list sanitiser as a second fence, which
 * also drops any link whose scheme is not http, https or mailto.
 */
import MarkdownIt from "markdown-it";
import { FilterXSS, getDefaultWhiteList, safeAttrValue } from "xss";

const markdown = new MarkdownIt({ html: false, linkify: true, typographer: false });

const allowed = getDefaultWhiteList();
const sanitiser = new FilterXSS({
  whiteList: { ...allowed, code: ["class"], pre: [], span: [] },
  stripIgnoreTag: true,
  stripIgnoreTagBody: ["script", "style"],
  safeAttrValue(tag, name, value, cssFilter) {
    if ((name === "href" || name === "src") && !/^(https?:|mailto:|#|\/)/i.test(value.trim())) return "";
    return safeAttrValue(tag, name, value, cssFilter);
  },
});

/** The item body rendered and sanitised. */
export function renderMarkdown(source: string): string {
  return sanitiser.process(markdown.render(source));
}
