/**
 * Reads the Prometheus text exposition format the way a test needs it: each sample by
 * its name and labels, and `promtool check metrics` on the whole text.
 */

/** Samples by `name{a="x",b="y"}` (labels as the server writes them, sorted) or bare `name`. */
export function parseSamples(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** One sample's value; throws naming the series when the text lacks it. */
export function sample(samples: Map<string, number>, series: string): number {
  const value = samples.get(series);
  if (value === undefined) throw new Error(`no sample ${series} in the scrape`);
  return value;
}

/** Runs Debian's promtool on the text: its problems, "" when there are none. */
export async function promtoolCheck(text: string): Promise<{ ok: boolean; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { ok: code === 0, output: decode(stdout) + decode(stderr) };
}
