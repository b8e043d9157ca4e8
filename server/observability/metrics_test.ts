import assert from "node:assert/strict";
import { MetricsRegistry } from "./metrics.ts";

Deno.test("a collector that fails or hangs leaves its gauges out and is counted, the scrape goes on", async () => {
  const registry = new MetricsRegistry();
  const fine = registry.gauge("test_fine", "Set by a working collector.");
  const broken = registry.gauge("test_broken", "Set by a failing collector.");
  registry.collect("fine", () => fine.set(7));
  registry.collect("broken", () => {
    broken.clear();
    throw new Error("postgres is down");
  });
  const hung = Promise.withResolvers<void>();
  registry.collect("hung", () => hung.promise);
  const text = await registry.scrape(20);
  hung.resolve();
  assert.match(text, /^test_fine 7$/m);
  assert.doesNotMatch(text, /^test_broken /m);
  assert.match(text, /^taskmesh_metrics_collector_failures_total\{collector="broken"\} 1$/m);
  assert.match(text, /^taskmesh_metrics_collector_failures_total\{collector="hung"\} 1$/m);
});
