/**
 * A member signing in is told the TUI is for operators, and where to go instead
 * (the web app), rather than getting a shell whose every view is refused; enter goes
 * back to the sign-in screen, q quits.
 */
import assert from "node:assert/strict";
import { KEYS, renderTui, startTuiHarness } from "./_support/tui_harness.ts";

Deno.test("TUI: a member who signs in is told the TUI is for operators", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const h = await startTuiHarness();
  try {
    const member = await h.user("member");
    let quit = false;
    const screen = renderTui({ url: h.url, onQuit: () => quit = true }, { columns: 80, rows: 24 });
    try {
      await screen.waitFor("enter to continue");
      screen.press(...member.email, KEYS.enter, ...member.password, KEYS.enter);
      const frame = await screen.waitFor("q or esc quits");
      assert.match(frame, new RegExp(`Signed in as ${member.email.replace(".", "\\.")}, a member`));
      assert.match(frame, /Use the web app instead: open http:\/\/127\.0\.0\.1:\d+ in a browser/);
      assert.doesNotMatch(frame, /Workers connected|not allowed to watch/);
      screen.press(KEYS.enter);
      const again = await screen.waitFor("enter to continue");
      assert.doesNotMatch(again, /operator TUI is for operators/);
      screen.press(...member.email, KEYS.enter, ...member.password, KEYS.enter);
      await screen.waitFor("q or esc quits");
      screen.press("q");
      await screen.waitFor(() => quit);
    } finally {
      screen.unmount();
    }
  } finally {
    await h.close();
  }
});
