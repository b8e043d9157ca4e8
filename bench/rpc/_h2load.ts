/** Running h2load and reading its summary. */

export interface H2loadOptions {
  url: string;
  /** Request headers, `name: value`. */
  headers: string[];
  /**
   * File whose bytes are every request's body (h2load then sends POST). Undefined sends a
   * POST with no body: h2load cannot map an empty file, so the method is set by header.
   */
  bodyFile?: string;
  requests: number;
  clients: number;
  /** Concurrent streams per client connection. */
  streams: number;
  /** CPU list for `taskset -c`; undefined runs unpinned. */
  cpus?: string;
}

export interface H2loadResult {
  requestsPerSecond: number;
  seconds: number;
  total: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  status2xx: number;
  /** Response body bytes over the whole run (h2load's "data" traffic). */
  dataBytes: number;
  meanLatencyMs: number;
}

async function commandExists(name: string): Promise<boolean> {
  const { success } = await new Deno.Command("sh", {
    args: ["-c", `command -v ${name}`],
    stdout: "null",
    stderr: "null",
  }).output();
  return success;
}

/** Installs Debian's nghttp2-client when h2load is missing; the bench is not part of CI. */
export async function ensureH2load(): Promise<void> {
  if (await commandExists("h2load")) return;
  if (Deno.uid() !== 0 || !(await commandExists("apt-get"))) {
    throw new Error("h2load is missing: install Debian's nghttp2-client and run the bench again");
  }
  console.log("h2load is missing; installing nghttp2-client with apt-get");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "nghttp2-client"]]) {
    const { success } = await new Deno.Command("apt-get", { args, env, stdout: "inherit", stderr: "inherit" })
      .output();
    if (!success) throw new Error(`apt-get ${args.join(" ")} failed: install nghttp2-client by hand`);
  }
}

export async function h2loadVersion(): Promise<string> {
  const { stdout } = await new Deno.Command("h2load", { args: ["--version"] }).output();
  return new TextDecoder().decode(stdout).trim();
}

function unitToMs(value: number, unit: string): number {
  switch (unit) {
    case "us":
      return value / 1000;
    case "ms":
      return value;
    case "s":
      return value * 1000;
    default:
      throw new Error(`unknown h2load time unit ${unit}`);
  }
}

function byteCount(text: string, label: string): number {
  // e.g. "136.72KB (140000) data": the exact count is the parenthesised one.
  const match = text.match(new RegExp(`\\((\\d+)\\) ${label}`));
  if (!match) throw new Error(`h2load output has no ${label} byte count`);
  return Number(match[1]);
}

/** Parses h2load's closing summary; throws when a line it relies on is missing. */
export function parseH2load(output: string): H2loadResult {
  const finished = output.match(/finished in ([\d.]+)(us|ms|s), ([\d.]+) req\/s/);
  const requests = output.match(
    /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/,
  );
  const status = output.match(/status codes: (\d+) 2xx/);
  const latency = output.match(/time for request:\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s)/);
  if (!finished || !requests || !status || !latency) {
    throw new Error(`h2load output was not understood:\n${output}`);
  }
  return {
    seconds: unitToMs(Number(finished[1]), finished[2]) / 1000,
    requestsPerSecond: Number(finished[3]),
    total: Number(requests[1]),
    succeeded: Number(requests[2]),
    failed: Number(requests[3]),
    errored: Number(requests[4]),
    timeout: Number(requests[5]),
    status2xx: Number(status[1]),
    dataBytes: byteCount(output, "data"),
    meanLatencyMs: unitToMs(Number(latency[1]), latency[2]),
  };
}

export async function runH2load(options: H2loadOptions): Promise<H2loadResult> {
  const h2loadArgs = [
    "-n",
    String(options.requests),
    "-c",
    String(options.clients),
    "-m",
    String(options.streams),
    ...(options.bodyFile === undefined ? ["-H", ":method: POST"] : ["-d", options.bodyFile]),
    ...options.headers.flatMap((header) => ["-H", header]),
    options.url,
  ];
  const [command, args] = options.cpus === undefined
    ? ["h2load", h2loadArgs]
    : ["taskset", ["-c", options.cpus, "h2load", ...h2loadArgs]];
  const { success, stdout, stderr } = await new Deno.Command(command, { args }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  if (!success) throw new Error(`h2load failed:\n${output}`);
  return parseH2load(output);
}
