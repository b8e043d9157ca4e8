/**
 * The TUI's session against a real server: the access token is refreshed before it
 * expires without the operator noticing; a refused token is refreshed and the call
 * retried; a revoked session asks to sign in again; API keys act within their scopes.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { AuthService, TokenPairSchema } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { capabilitiesOf } from "../tui/data/capabilities.ts";
import { createClients, createPublicAuthClient } from "../tui/data/clients.ts";
import { ManualClock } from "../tui/data/clock.ts";
import { Session } from "../tui/data/session.ts";
import { signInWithApiKey, signInWithPassword } from "../tui/data/sign_in.ts";
import { bearer } from "./_support/raw_worker.ts";
import { KEYS, renderTui, startTuiHarness } from "./_support/tui_harness.ts";

/** Resolves when `session` has refreshed `n` times (it tells its subscribers). */
function refreshed(session: Session, n: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (session.refreshes >= n) {
        off();
        resolve();
      }
    };
    const off = session.subscribe(check);
    check();
  });
}

Deno.test("TUI session", { sanitizeOps: false, sanitizeResources: false }, async (t) => {
  const h = await startTuiHarness();
  const auth = createClient(AuthService, h.server.connect());
  try {
    await t.step("the access token is refreshed before it expires; the screen carries on", async () => {
      const operator = await h.user("operator");
      const clock = new ManualClock(Date.now());
      const session = await signInWithPassword(h.url, operator.email, operator.password, clock);
      await h.tasks.enqueue({ task: { queue: "emails", type: "email.send" } });
      const screen = renderTui({ url: h.url, session, clock, initialView: "queues" });
      try {
        await screen.waitFor(/emails\s+0\s+0\s+1/);
        // The refresher sleeps until three quarters of the token's life (15 minutes by default).
        await clock.sleepers(1);
        clock.advance(12 * 60_000);
        await refreshed(session, 1);
        screen.press("p");
        await screen.waitFor("Pause queue emails?");
        screen.press("y");
        await screen.waitFor("queue emails paused");
        assert.match(screen.lastFrame(), /● connected/);
        assert.doesNotMatch(screen.lastFrame(), /sign in/);
      } finally {
        screen.unmount();
      }
    });

    await t.step("a refused access token is refreshed and the call retried once", async () => {
      const viewer = await h.user("viewer");
      const login = await auth.login({ email: viewer.email, password: viewer.password });
      const tokens = create(TokenPairSchema, {
        accessToken: "not-a-token",
        accessTokenExpireTime: timestampFromMs(Date.now() + 15 * 60_000),
        refreshToken: login.tokens!.refreshToken,
      });
      const session = Session.fromTokens(viewer.email, tokens, createPublicAuthClient(h.url));
      const { queues } = await createClients(h.url, session).tasks.listQueues({});
      assert.ok(queues.some((q) => q.name === "emails"));
      assert.equal(session.refreshes, 1);
      assert.equal(session.identity.role, "viewer");
    });

    await t.step("a revoked session asks for the password again", async () => {
      const admin = await h.user("admin");
      const clock = new ManualClock(Date.now());
      const session = await signInWithPassword(h.url, admin.email, admin.password, clock);
      const screen = renderTui({ url: h.url, session, clock });
      try {
        await screen.waitFor("● connected");
        await auth.logoutAll({}, bearer(admin.token));
        await clock.sleepers(1);
        clock.advance(12 * 60_000);
        await screen.waitFor("session expired");
        await screen.waitFor("taskmesh — sign in");
        assert.match(screen.lastFrame(), new RegExp(admin.email.replace(".", "\\.")));
        screen.press(...admin.password, KEYS.enter);
        await screen.waitFor("Workers connected");
      } finally {
        screen.unmount();
      }
    });

    await t.step("an API key acts within its scopes", async () => {
      const { secret: reader } = await auth.createApiKey(
        { name: "ro", scopes: ["tasks:read"] },
        bearer(h.admin.token),
      );
      const { secret: manager } = await auth.createApiKey(
        { name: "rw", scopes: ["tasks:read", "tasks:manage"] },
        bearer(h.admin.token),
      );
      const ro = await signInWithApiKey(h.url, reader);
      assert.deepEqual(capabilitiesOf(ro.identity, false), {
        readTasks: true,
        operate: false,
        readTags: false,
        approveTags: false,
        readCampaigns: false,
        manageCampaigns: false,
      });
      const rw = await signInWithApiKey(h.url, manager);
      assert.equal(capabilitiesOf(rw.identity, false).operate, true);
      const screen = renderTui({ url: h.url, session: rw, initialView: "queues" });
      try {
        const frame = await screen.waitFor(/emails ⏸/);
        assert.match(frame, /r resume/);
        assert.match(frame, /api key/);
        screen.press("6");
        await screen.waitFor("API keys cannot approve");
      } finally {
        screen.unmount();
      }
      await assert.rejects(signInWithApiKey(h.url, "tmk_not_a_key"), /unauthenticated|Unauthenticated/);
    });
  } finally {
    await h.close();
  }
});
