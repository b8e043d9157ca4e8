/**
 * The template sandbox: no prototype walk, no file system, a runaway loop stopped by the
 * render limit, a syntax error named with its line and column, HTML escaped in the HTML
 * body only, and a text body made from the HTML when none is given.
 */
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseTemplate, RENDER_LIMIT_MS, renderTemplate } from "./templates.ts";

const render = (htmlBody: string, vars: object, subject = "s", textBody = "") =>
  renderTemplate(parseTemplate({ subject, htmlBody, textBody }), vars);

function refusal(fn: () => unknown): ConnectError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConnectError, `not a ConnectError: ${error}`);
    return error;
  }
  assert.fail("it did not throw");
}

Deno.test("a template reaches only the variables' own properties", () => {
  const out = render(
    "[{{ recipient.constructor }}][{{ recipient.__proto__ }}][{{ recipient.toString }}]" +
      "[{{ recipient.constructor.constructor }}][{{ recipient.hasOwnProperty }}]",
    { recipient: { name: "Ada" } },
  );
  assert.equal(out.html, "[][][][][]");
  const inherited = Object.create({ secret: "from the prototype" });
  inherited.own = "mine";
  assert.equal(render("{{ x.own }}/{{ x.secret }}", { x: inherited }).html, "mine/");
});

Deno.test("include, render and layout are gone: no file is ever read", () => {
  for (const tag of ["include", "render", "layout"]) {
    const error = refusal(() =>
      parseTemplate({ subject: "s", htmlBody: `{% ${tag} '/etc/passwd' %}`, textBody: "" })
    );
    assert.equal(error.code, Code.InvalidArgument);
    assert.match(error.rawMessage, new RegExp(`tag "${tag}" not found`));
  }
});

Deno.test("a runaway loop is stopped by the render limit", () => {
  const started = performance.now();
  const error = refusal(() =>
    render(
      "{% for a in (1..2000) %}{% for b in (1..2000) %}{% for c in (1..2000) %}{{ c }}{% endfor %}{% endfor %}{% endfor %}",
      {},
    )
  );
  const took = performance.now() - started;
  assert.equal(error.code, Code.FailedPrecondition);
  assert.match(error.rawMessage, /html_body failed to render.*(limit|exceeded)/);
  assert.ok(took < RENDER_LIMIT_MS * 10, `it ran ${took.toFixed(0)} ms`);
});

Deno.test("a syntax error is INVALID_ARGUMENT with the field, the line and the column", () => {
  const error = refusal(() =>
    parseTemplate(
      { subject: "ok", htmlBody: "<p>hello</p>\n<p>{{ name | nosuchfilter }}</p>", textBody: "" },
      "template.",
    )
  );
  assert.equal(error.code, Code.InvalidArgument);
  assert.match(error.rawMessage, /^template\.html_body has a syntax error at line 2, column \d+/);
  const unclosed = refusal(() => parseTemplate({ subject: "{% if x %}", htmlBody: "b", textBody: "" }));
  assert.match(
    unclosed.rawMessage,
    /template\.subject has a syntax error at line 1, column 1: tag \{% if x %\} not closed/,
  );
});

Deno.test("HTML is escaped in the HTML body only; the text body comes from the HTML when empty", () => {
  const vars = { recipient: { name: "Ada <b>&</b>" }, url: "https://x.test/?a=1&b=2" };
  const out = render(
    '<p>Hi {{ recipient.name }}</p><a href="{{ url }}">link</a>',
    vars,
    "Hi {{ recipient.name }}",
  );
  assert.equal(
    out.html,
    '<p>Hi Ada &lt;b&gt;&amp;&lt;/b&gt;</p><a href="https://x.test/?a=1&amp;b=2">link</a>',
  );
  assert.equal(out.subject, "Hi Ada <b>&</b>");
  assert.match(out.text, /^Hi Ada <b>&<\/b>\n\nlink \[https:\/\/x\.test\/\?a=1&b=2\]$/);
  assert.equal(render("<p>x</p>", {}, "s", "plain {{ recipient.name }}").text, "plain ");
});
