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

Deno.test("a series handle counts into the series its labels name, whatever their order, escaped alike", async () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter("test_calls_total", "Calls.");
  const histogram = registry.histogram("test_call_seconds", "Call time.", [0.1, 1]);
  const handle = counter.series({ method: 'a"b\\c\nd', code: "ok" });
  const timing = histogram.series({ code: "ok", method: "m" });
  assert.doesNotMatch(await registry.scrape(), /^test_calls_total\{/m, "no series before its first count");
  handle.inc();
  handle.inc(2);
  counter.inc({ code: "ok", method: 'a"b\\c\nd' });
  timing.observe(0.05);
  timing.observe(5);
  histogram.observe(0.5, { method: "m", code: "ok" });
  const text = await registry.scrape();
  assert.match(text, /^test_calls_total\{code="ok",method="a\\"b\\\\c\\nd"\} 4$/m);
  assert.match(text, /^test_call_seconds_bucket\{code="ok",method="m",le="0.1"\} 1$/m);
  assert.match(text, /^test_call_seconds_bucket\{code="ok",method="m",le="1"\} 2$/m);
  assert.match(text, /^test_call_seconds_bucket\{code="ok",method="m",le="\+Inf"\} 3$/m);
  assert.match(text, /^test_call_seconds_count\{code="ok",method="m"\} 3$/m);
});
