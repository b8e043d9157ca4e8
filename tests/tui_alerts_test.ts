/**
 * The Alerts view and the overview against a real server: a rule an admin made through
 * AlertService, evaluated by the server's evaluator, shows as firing (with what holds)
 * in the Alerts view and among the overview's warnings, and leaves both once resolved.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { AlertKind, AlertService } from "../gen/taskmesh/alerts/v1/alerts_pb.ts";
import { createAlertsRuntime } from "../server/alerts/runtime.ts";
import { tasksOf } from "../server/runtimes.ts";
import { bearer } from "./_support/raw_worker.ts";
import { renderTui, startTuiHarness } from "./_support/tui_harness.ts";

Deno.test(
  "TUI alerts view and overview show firing alerts",
  { sanitizeOps: false, sanitizeResources: false },
  async (t) => {
    // The test evaluates when it wants; the server's own loop stays off.
    const h = await startTuiHarness({ env: { TASKMESH_ALERTS_INTERVAL_MS: "0" } });
    const alerts = createClient(AlertService, h.server.connect());
    const evaluator = createAlertsRuntime(h.server.deps, tasksOf(h.server.app.runtimes));
    await alerts.createAlertRule({
      rule: {
        name: "reports unserved",
        kind: AlertKind.NO_WORKER,
        queue: "reports",
        emailTo: "ops@example.com",
      },
    }, bearer(h.admin.token));
    await alerts.createAlertRule({
      rule: {
        name: "slow mail",
        kind: AlertKind.OLDEST_QUEUED_AGE,
        queue: "emails",
        threshold: 300,
        emailTo: "ops@example.com",
      },
    }, bearer(h.admin.token));
    const { task } = await h.tasks.enqueue({ task: { queue: "reports", type: "report.build" } });
    await evaluator.evaluate();
    const session = await h.session("viewer");
    const screen = renderTui({ url: h.url, session, initialView: "alerts" }, { columns: 140, rows: 30 });
    try {
      await t.step("the Alerts view lists the firing alert and every rule", async () => {
        const frame = await screen.waitFor(/Firing alerts 1/);
        assert.match(frame, /✖ reports unserved .* reports has 1 runnable task\(s\) and 0 worker\(s\)/);
        assert.match(
          frame,
          /reports unserved\s+no_worker\s+reports\s+15m00s\s+ops@example\.com/,
        );
        assert.match(frame, /slow mail\s+oldest_queued_age\s+emails\s+≥ 300 s/);
      });

      await t.step("the overview warns of it", async () => {
        screen.press("1");
        await screen.waitFor(/✖ alert reports unserved firing for \d+s: reports has 1 runnable task/);
      });

      await t.step("once resolved, r reads it gone", async () => {
        await h.tasks.cancelTask({ id: task!.id });
        await evaluator.evaluate();
        screen.press("8");
        await screen.waitFor("Firing alerts");
        screen.press("r");
        await screen.waitFor("no alert is firing");
      });
    } finally {
      screen.unmount();
      await h.close();
    }
  },
);
