/**
 * A small Prometheus registry: counters and histograms with labels, rendered in the
 * text exposition format at /metrics, plus figures sampled at scrape time. The hot path
 * only adds to numbers in memory; anything that costs a query is computed by a collector
 * when Prometheus scrapes (`collect`), never on the request path.
 */

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const names = Object.keys(labels);
  if (names.length === 0) return "";
  if (names.length > 1) names.sort();
  let key = "";
  for (const name of names) key += `${key === "" ? "" : ","}${name}="${escapeLabel(labels[name])}"`;
  return key;
}

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeLabel(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** One series of a counter, its key built once: for a hot path that counts the same labels again and again. */
export interface CounterSeries {
  inc(by?: number): void;
}

/** One series of a histogram, its key built once. */
export interface HistogramSeriesHandle {
  observe(value: number): void;
}

function braces(key: string, extra?: string): string {
  const inner = [key, extra].filter(Boolean).join(",");
  return inner ? `{${inner}}` : "";
}

export class Counter {
  readonly #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  /** The series of these labels; it appears in the scrape at its first inc, as with `inc`. */
  series(labels: Labels = {}): CounterSeries {
    const key = labelKey(labels);
    const values = this.#values;
    return { inc: (by = 1) => void values.set(key, (values.get(key) ?? 0) + by) };
  }

  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [key, value] of this.#values) lines.push(`${this.name}${braces(key)} ${value}`);
    return lines.join("\n");
  }
}

export class Gauge {
  readonly #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, readonly sample?: () => number) {}

  set(value: number, labels: Labels = {}): void {
    this.#values.set(labelKey(labels), value);
  }

  /** Forgets every series: a collector that sets them all again at each scrape starts with it. */
  clear(): void {
    this.#values.clear();
  }

  render(): string {
    if (this.sample) this.#values.set("", this.sample());
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const [key, value] of this.#values) lines.push(`${this.name}${braces(key)} ${value}`);
    return lines.join("\n");
  }
}

interface HistogramSeries {
  buckets: number[];
  sum: number;
  count: number;
}

export class Histogram {
  readonly #series = new Map<string, HistogramSeries>();
  constructor(readonly name: string, readonly help: string, readonly bounds: readonly number[]) {}

  observe(value: number, labels: Labels = {}): void {
    this.#add(labelKey(labels), value);
  }

  /** The series of these labels; it appears in the scrape at its first observation, as with `observe`. */
  series(labels: Labels = {}): HistogramSeriesHandle {
    const key = labelKey(labels);
    return { observe: (value) => this.#add(key, value) };
  }

  #add(key: string, value: number): void {
    let series = this.#series.get(key);
    if (!series) this.#series.set(key, series = { buckets: this.bounds.map(() => 0), sum: 0, count: 0 });
    // Buckets are stored non-cumulative and summed at render time: observe stays O(buckets) at worst.
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        series.buckets[i]++;
        break;
      }
    }
    series.sum += value;
    series.count++;
  }

  count(labels: Labels = {}): number {
    return this.#series.get(labelKey(labels))?.count ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [key, series] of this.#series) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += series.buckets[i];
        lines.push(`${this.name}_bucket${braces(key, `le="${bound}"`)} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${braces(key, 'le="+Inf"')} ${series.count}`);
      lines.push(`${this.name}_sum${braces(key)} ${series.sum}`);
      lines.push(`${this.name}_count${braces(key)} ${series.count}`);
    }
    return lines.join("\n");
  }
}

/** Runs before each scrape to set the gauges it owns; a failure leaves them empty and is reported. */
export type Collector = () => void | Promise<void>;

/**
 * How long a scrape waits for a collector (a Postgres that hangs must not hang /metrics past
 * Prometheus's scrape timeout, 10 s by default); a late one is counted as failed.
 */
export const COLLECTOR_TIMEOUT_MS = 3_000;

export class MetricsRegistry {
  readonly #metrics: Array<{ render(): string }> = [];
  readonly #collectors: Array<{ name: string; run: Collector }> = [];
  readonly #collectorFailures = this.counter(
    "taskmesh_metrics_collector_failures_total",
    "Scrape-time collectors that failed, by collector; their gauges are left out of that scrape.",
  );

  /** Adds a collector run at every scrape (queue depths, worker slots...). */
  collect(name: string, run: Collector): void {
    this.#collectors.push({ name, run });
  }

  /** Runs the collectors, then renders: what GET /metrics answers. */
  async scrape(timeoutMs = COLLECTOR_TIMEOUT_MS): Promise<string> {
    await Promise.all(this.#collectors.map(async ({ name, run }) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} took over ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([run(), late]);
      } catch {
        this.#collectorFailures.inc({ collector: name });
      } finally {
        clearTimeout(timer);
      }
    }));
    return this.render();
  }

  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help));
  }

  gauge(name: string, help: string, sample?: () => number): Gauge {
    return this.#add(new Gauge(name, help, sample));
  }

  histogram(name: string, help: string, bounds: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, bounds));
  }

  #add<T extends { render(): string }>(metric: T): T {
    this.#metrics.push(metric);
    return metric;
  }

  render(): string {
    return this.#metrics.map((m) => m.render()).join("\n") + "\n";
  }
}

/** The metrics every server instance has: RPC counts and latencies, and process figures. */
export function createServerMetrics(startedAt = Date.now()) {
  const registry = new MetricsRegistry();
  return {
    registry,
    rpcTotal: registry.counter("taskmesh_rpc_total", "RPCs handled, by method and status code."),
    rpcSeconds: registry.histogram(
      "taskmesh_rpc_duration_seconds",
      "RPC latency in seconds, by method and status code.",
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    ),
    rpcInFlight: registry.gauge("taskmesh_rpc_in_flight", "RPCs being handled now."),
    residentBytes: registry.gauge(
      "process_resident_memory_bytes",
      "Resident memory size in bytes.",
      () => Deno.memoryUsage().rss,
    ),
    heapBytes: registry.gauge(
      "taskmesh_heap_used_bytes",
      "V8 heap in use, bytes.",
      () => Deno.memoryUsage().heapUsed,
    ),
    uptime: registry.gauge(
      "process_start_time_seconds",
      "Start time of the process since the epoch, in seconds.",
      () => startedAt / 1000,
    ),
  };
}

export type ServerMetrics = ReturnType<typeof createServerMetrics>;
