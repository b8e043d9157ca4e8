/**
 * The member journey in a real browser, as a person does it: sign up → open the
 * verification link from the mail → log in → subscribe → suggest → an admin approves
 * over RPC → the member sees it approved → change password → sign out everywhere. Then a
 * password reset through the mail's link. One browser for the file; a screenshot of
 * every page under tests/.artifacts/web/.
 */
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { SuggestionStatus, TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { as } from "../server/auth/testing.ts";
import { launchBrowser, screenshot, startWebTestbed, uniqueEmail } from "./_support/web.ts";

Deno.test("web: the member journey and a password reset, in Chromium", async (t) => {
  const bed = await startWebTestbed();
  const browser = await launchBrowser();
  try {
    const admin = await bed.adminToken();
    const { tag: languages } = await bed.tags.createTag(
      { name: "Languages", type: TagType.DOMAIN },
      as(admin),
    );
    await bed.tags.createTag({ name: "Python", type: TagType.LANGUAGE, parentId: languages!.id }, as(admin));
    await bed.tags.createTag({ name: "Rust", type: TagType.LANGUAGE, parentId: languages!.id }, as(admin));
    await bed.tags.createTag({ name: "Testing", type: TagType.TOPIC }, as(admin));

    const email = uniqueEmail("mia");
    const password = "my own long passphrase";
    const newPassword = "an even longer passphrase of mine";
    const memberToken = async () => (await bed.auth.login({ email, password })).tokens!.accessToken;

    await t.step("the member journey", async () => {
      const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
      const page = await context.newPage();

      // Sign up, with the rules shown as the password is typed.
      await page.goto(`${bed.url}/signup`);
      await page.getByLabel("Your name").fill("Mia Member");
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill("short");
      const rules = page.getByTestId("password-rules");
      assert.match(await rules.innerText(), /At least 12 characters \(5 so far\).*\(not met yet\)/s);
      await page.getByLabel("Password").fill(password);
      assert.match(await rules.innerText(), /At least 12 characters \(22 so far\)[^✓○•]*\(met\)/);
      await screenshot(page, "signup");
      await page.getByRole("button", { name: "Sign up" }).click();
      await page.getByRole("heading", { name: "Check your mail" }).waitFor();

      // The link in the mail opens the verify page, which verifies at once.
      const link = await bed.linkFromMail(email, /Confirm your taskmesh email address/, "/verify-email");
      await page.goto(link);
      await page.getByTestId("notice").getByText("is confirmed").waitFor();
      // The token is taken out of the address bar.
      assert.equal(new URL(page.url()).search, "");
      await screenshot(page, "verify-email");

      // Log in.
      await page.getByRole("link", { name: "Log in" }).first().click();
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill(password);
      await screenshot(page, "login");
      await page.getByRole("button", { name: "Log in" }).click();
      await page.getByRole("heading", { name: "Tags" }).waitFor();

      // Browse with search, subscribe.
      await page.getByLabel("Search tags").fill("pyth");
      const tree = page.getByTestId("tag-tree");
      await tree.locator("li[data-tag=Python]").waitFor();
      const shown = await Promise.all(
        (await tree.locator("li").all()).map((li) => li.getAttribute("data-tag")),
      );
      assert.deepEqual(shown, ["Languages", "Python"]);
      await page.getByRole("button", { name: "Subscribe to Python" }).click();
      await page.getByRole("button", { name: "Unsubscribe from Python", pressed: true }).waitFor();
      await page.getByLabel("Search tags").fill("");

      // Suggest a tag; it shows as pending.
      await page.getByLabel("Name", { exact: true }).fill("Zig");
      await page.getByLabel("Type").selectOption({ label: "Language" });
      await page.getByLabel("Under (optional)").selectOption({ label: "Languages" });
      await page.getByLabel("Why (optional)").fill("small and fast");
      await page.getByRole("button", { name: "Suggest" }).click();
      const mine = page.getByTestId("my-suggestions");
      await mine.locator("li[data-suggestion=Zig][data-status=pending]").waitFor();
      await screenshot(page, "tags");

      // The admin approves over RPC; after a reload (the session comes back from the cookie) it shows.
      const { suggestions } = await bed.tags.listSuggestions({ status: SuggestionStatus.PENDING }, as(admin));
      const zig = suggestions.find((s) => s.name === "Zig")!;
      assert.equal(zig.parentId, languages!.id);
      const { tag: zigTag } = await bed.tags.approveSuggestion({ id: zig.id }, as(admin));
      assert.equal(zigTag?.parentId, languages!.id);
      await page.reload();
      // The tag's name comes from the tree, which may answer after the suggestions: wait for both.
      const approved = mine.locator("li[data-suggestion=Zig][data-status=approved]", {
        hasText: "Now a tag: Zig",
      });
      await approved.waitFor();
      assert.match(await approved.innerText(), /Now a tag: Zig\./);
      await tree.locator("li[data-tag=Zig].depth-1").waitFor();

      // The mail page lists the subscription.
      await page.getByRole("link", { name: "Mail" }).click();
      await page.getByTestId("subscriptions").getByText("Python").waitFor();
      await screenshot(page, "mail");
      await page.getByRole("button", { name: "Unsubscribe from Python" }).click();
      await page.getByTestId("no-subscriptions").waitFor();
      const { subscriptions } = await bed.tags.listMySubscriptions({}, as(await memberToken()));
      assert.deepEqual(subscriptions, []);

      // Change password, then sign out everywhere.
      await page.getByRole("link", { name: "Account" }).click();
      await page.getByLabel("Current password").fill(password);
      await page.getByLabel("New password").fill(newPassword);
      await page.getByRole("button", { name: "Change password" }).click();
      await page.getByTestId("notice").getByText("Password changed").waitFor();
      await screenshot(page, "account");
      // A second browser session of the same member, to be ended by "everywhere".
      const other = await bed.auth.login({ email, password: newPassword });
      await page.getByRole("button", { name: "Sign out everywhere" }).click();
      await page.getByRole("heading", { name: "Log in" }).waitFor();
      const refused = await bed.auth.refresh({ refreshToken: other.tokens!.refreshToken }).then(
        () => undefined,
        (e) => ConnectError.from(e),
      );
      assert.equal(refused?.code, Code.Unauthenticated);
      // This browser's own session is over too: a member page sends it to log in.
      await page.goto(`${bed.url}/tags`);
      await page.getByRole("heading", { name: "Log in" }).waitFor();
      assert.equal(new URL(page.url()).pathname, "/login");
      assert.equal((await context.cookies()).filter((c) => c.name === "taskmesh_refresh").length, 0);
      await context.close();
    });

    await t.step("reset password through the mail's link", async () => {
      const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
      const page = await context.newPage();
      await page.goto(`${bed.url}/forgot-password`);
      await page.getByLabel("Email").fill(email);
      await screenshot(page, "forgot-password");
      await page.getByRole("button", { name: "Send the reset link" }).click();
      await page.getByTestId("notice").waitFor();
      const link = await bed.linkFromMail(email, /Reset your taskmesh password/, "/reset-password");
      await page.goto(link);
      const reset = "a brand new passphrase for mia";
      await page.getByLabel("New password").fill(reset);
      assert.equal(new URL(page.url()).search, "", "the token is taken out of the address bar");
      await screenshot(page, "reset-password");
      await page.getByRole("button", { name: "Set the new password" }).click();
      await page.getByTestId("notice").getByText("Your password is changed").waitFor();
      // The new password signs in, from the browser.
      await page.getByRole("link", { name: "Log in" }).last().click();
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill(reset);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.getByRole("heading", { name: "Tags" }).waitFor();
      await context.close();
    });
  } finally {
    await browser.close();
    await bed.close();
  }
});
