/**
 * Bad input in a real browser shows the server's own message in the right place: a
 * too-common password next to the password field, a wrong password on the log-in form,
 * a used and an expired verification link on the verify page (with a resend button).
 * The server runs on a manual clock so a link can expire without waiting a day.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../server/clock.ts";
import { decodeQuotedPrintable } from "../mail/testing.ts";
import { launchBrowser, screenshot, startWebTestbed, uniqueEmail } from "./_support/web.ts";

Deno.test("web: bad input shows the right message, and the forms work from the keyboard, in Chromium", async (t) => {
  const clock = new ManualClock(Date.now());
  const bed = await startWebTestbed({ clock });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const email = uniqueEmail("bad");
    const password = "a perfectly fine passphrase";

    await t.step("a too-common password is refused next to the password field", async () => {
      await page.goto(`${bed.url}/signup`);
      await page.getByLabel("Your name").fill("Bea Bad");
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill("1qaz2wsx3edc");
      await page.getByRole("button", { name: "Sign up" }).click();
      const error = page.locator("#field-password-error");
      await error.waitFor();
      assert.match(
        await error.innerText(),
        /^Password is one of the most common passwords: choose a less guessable/,
      );
      assert.equal(await page.getByLabel("Password").getAttribute("aria-invalid"), "true");
      await screenshot(page, "signup-common-password");
      // The same form then goes through with a better password.
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Sign up" }).click();
      await page.getByRole("heading", { name: "Check your mail" }).waitFor();
    });

    const link = await bed.linkFromMail(email, /Confirm your taskmesh email address/, "/verify-email");

    await t.step("logging in before verifying says so", async () => {
      await page.goto(`${bed.url}/login`);
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Log in" }).click();
      assert.match(await page.getByTestId("form-error").innerText(), /Email address is not verified yet/);
      await page.getByRole("button", { name: "Send a new verification mail" }).waitFor();
    });

    await t.step("a used verification link says it was used, and offers a new mail", async () => {
      await page.goto(link);
      await page.getByTestId("notice").getByText("is confirmed").waitFor();
      await page.goto(link);
      const error = page.getByTestId("form-error");
      await error.waitFor();
      assert.match(
        await error.innerText(),
        /^Verification token has already been used: ask for a new verification mail/,
      );
      await page.getByRole("button", { name: "Send a new verification mail" }).waitFor();
      await screenshot(page, "verify-email-used");
    });

    await t.step("a wrong password says so on the log-in form", async () => {
      await page.goto(`${bed.url}/login`);
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill("not the passphrase at all");
      await page.getByRole("button", { name: "Log in" }).click();
      const error = page.getByTestId("form-error");
      await error.waitFor();
      assert.match(await error.innerText(), /^Email or password is wrong: check both, or reset the password/);
      await screenshot(page, "login-wrong-password");
    });

    await t.step("an expired verification link says it expired; resending mails a new one", async () => {
      const late = uniqueEmail("late");
      await bed.auth.register({ email: late, password, displayName: "Lee Late" });
      const expired = await bed.linkFromMail(late, /Confirm your taskmesh email address/, "/verify-email");
      clock.advance(25 * 3600_000);
      await page.goto(expired);
      const error = page.getByTestId("form-error");
      await error.waitFor();
      assert.match(
        await error.innerText(),
        /^Verification token has expired: ask for a new verification mail/,
      );
      await page.getByLabel("Your email").fill(late);
      await page.getByRole("button", { name: "Send a new verification mail" }).click();
      await page.getByTestId("notice").waitFor();
      const oldToken = new URL(expired).searchParams.get("token")!;
      await bed.sink.waitFor((m) => m.to.includes(late) && !decodeQuotedPrintable(m.raw).includes(oldToken));
      assert.equal(bed.sink.received.filter((m) => m.to.includes(late)).length, 2);
    });

    await t.step("keyboard alone: every field has a label, and Tab and Enter log in", async () => {
      for (const path of ["/signup", "/login", "/forgot-password", "/reset-password"]) {
        await page.goto(`${bed.url}${path}`);
        await page.locator("form").first().waitFor();
        for (const input of await page.locator("input, select").all()) {
          const id = await input.getAttribute("id");
          assert.ok(id, `${path}: a field without an id`);
          assert.equal(await page.locator(`label[for="${id}"]`).count(), 1, `${path}: #${id} has no label`);
        }
      }
      await page.goto(`${bed.url}/login`);
      await page.getByLabel("Email").waitFor();
      // The email field has the focus on arrival.
      await page.keyboard.type(email);
      await page.keyboard.press("Tab");
      await page.keyboard.type(password);
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { name: "Tags" }).waitFor();
    });
  } finally {
    await browser.close();
    await bed.close();
  }
});
