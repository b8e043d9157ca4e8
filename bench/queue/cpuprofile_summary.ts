/**
 * Summarises a V8 .cpuprofile (from `deno run --cpu-prof`, e.g. the server under
 * `deno task bench:queue --server-cpu-prof=DIR`): where the process spent its samples,
 * by function (self and inclusive) and by file, optionally within a time slice.
 *
 * Usage: deno run -A bench/queue/cpuprofile_summary.ts FILE.cpuprofile
 *   [--from-s=N] [--to-s=N] (seconds since the first sample) [--top=25] [--match=server/]
 */
import { flagValue } from "../rpc/_flags.ts";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

function short(url: string): string {
  const at = url.search(/\/work\/(main|wt\/[^/]+)\//);
  if (at >= 0) return url.slice(at).replace(/^\/work\/(main|wt\/[^/]+)\//, "");
  const npm = url.match(/node_modules\/\.deno\/([^/]+)\/node_modules\/(.+)$/);
  if (npm) return `npm:${npm[2]}`;
  return url.replace(/^ext:/, "ext:") || "(native)";
}

function label(node: Node): string {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || "(anonymous)"} ${short(url)}${url ? `:${lineNumber + 1}` : ""}`;
}

function table(title: string, counts: Map<string, number>, total: number, top: number): string {
  const rows = [...counts].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    `${title}`,
    ...rows.map(([name, n]) => `  ${(100 * n / total).toFixed(1).padStart(5)}%  ${name}`),
  ].join("\n");
}

if (import.meta.main) {
  const file = Deno.args.find((a) => !a.startsWith("--"));
  if (!file) {
    console.error(
      "usage: cpuprofile_summary.ts FILE.cpuprofile [--from-s=N] [--to-s=N] [--top=25] [--match=TEXT]",
    );
    Deno.exit(2);
  }
  const profile: Profile = JSON.parse(await Deno.readTextFile(file));
  const from = Number(flagValue(Deno.args, "from-s") ?? 0) * 1e6;
  const to = Number(flagValue(Deno.args, "to-s") ?? Infinity) * 1e6;
  const top = Number(flagValue(Deno.args, "top") ?? 25);
  const match = flagValue(Deno.args, "match");

  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let t = 0;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i];
    if (t < from || t > to) return;
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    total++;
    if (name === "(idle)" || name === "(program)") {
      if (name === "(idle)") idle++;
      return;
    }
    const l = label(node);
    self.set(l, (self.get(l) ?? 0) + 1);
    const f = short(node.callFrame.url);
    files.set(f, (files.get(f) ?? 0) + 1);
    // Inclusive: every distinct frame on the stack counts this sample once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = label(byId.get(cur)!);
      if (seen.has(frame)) continue;
      seen.add(frame);
      inclusive.set(frame, (inclusive.get(frame) ?? 0) + 1);
    }
  });
  const only = (m: Map<string, number>) => match ? new Map([...m].filter(([k]) => k.includes(match))) : m;
  console.log(
    `${total} samples in the slice, ${(100 * idle / total).toFixed(1)}% idle, ${
      (100 * (total - idle) / total).toFixed(1)
    }% busy (percentages below are of all samples)`,
  );
  console.log(table("\nself time by file:", only(files), total, top));
  console.log(table("\nself time by function:", only(self), total, top));
  console.log(table("\ninclusive time by function:", only(inclusive), total, top));
}
