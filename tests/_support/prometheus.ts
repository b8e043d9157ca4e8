/**
 * Debian's Prometheus on a free loopback port, scraping the given targets every
 * `scrapeMs` from a config the test writes, with its data in a temp dir; and its HTTP
 * query API, as Grafana would call it.
 */
import { freePort } from "./redis_server.ts";
import { eventually } from "./until.ts";

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface PrometheusServer {
  url: string;
  /** An instant query at `time` (seconds since the epoch; now when unset). */
  query(promql: string, time?: number): Promise<Sample[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(targets: string[], scrapeMs = 500): Promise<PrometheusServer> {
  const dir = await Deno.makeTempDir({ prefix: "taskmesh-prometheus-" });
  const config = [
    "global:",
    `  scrape_interval: ${scrapeMs}ms`,
    `  scrape_timeout: ${Math.floor(scrapeMs * 0.8)}ms`,
    "scrape_configs:",
    "  - job_name: taskmesh",
    "    static_configs:",
    `      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`,
  ].join("\n");
  await Deno.writeTextFile(`${dir}/prometheus.yml`, config + "\n");
  const port = freePort();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        "prometheus is not on PATH: install Debian's (apt-get install prometheus) to run this test",
      );
    }
    throw error;
  }
  const log = new Response(child.stderr).text();
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await log;
    await Deno.remove(dir, { recursive: true });
  };
  try {
    await eventually(
      `prometheus ready on ${url}`,
      () => fetch(`${url}/-/ready`).then((r) => (r.body?.cancel(), r.ok || undefined), () => undefined),
      { timeoutMs: 30_000 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    async query(promql, time) {
      const params = new URLSearchParams({
        query: promql,
        ...(time === undefined ? {} : { time: String(time) }),
      });
      const res = await fetch(`${url}/api/v1/query?${params}`);
      const body = await res.json();
      if (body.status !== "success") throw new Error(`${promql}: ${body.error ?? res.status}`);
      return (body.data.result as Array<{ metric: Record<string, string>; value: [number, string] }>)
        .map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    stop,
  };
}
