/**
 * The observability files docker-compose.yml mounts hold together: Prometheus's config is
 * valid (Debian's promtool), the dashboard names the datasource Grafana provisions, the
 * provisioning loads the folder compose mounts the dashboards into, and every service
 * of the compose file has a health check. (CI validates the compose file itself with
 * `docker-compose config`, .ci/ok.sh.)
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));

Deno.test("promtool accepts the committed Prometheus config", async () => {
  const { code, stdout, stderr } = await new Deno.Command("promtool", {
    args: ["check", "config", new URL("deploy/prometheus/prometheus.yml", ROOT).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, text);
  assert.match(text, /SUCCESS/);
});

Deno.test("the dashboard reads the provisioned datasource, from the folder compose mounts", async () => {
  const datasource = await read("deploy/grafana/provisioning/datasources/prometheus.yml");
  const uid = /^\s+uid: (\S+)$/m.exec(datasource)?.[1];
  assert.ok(uid, "the datasource has a fixed uid");
  const dashboard = JSON.parse(await read("deploy/grafana/dashboards/taskmesh.json"));
  const panels = dashboard.panels.filter((p: { type: string }) => p.type !== "row");
  assert.ok(panels.length > 0);
  for (const panel of panels) {
    assert.equal(panel.datasource?.uid, uid, `panel "${panel.title}"`);
    for (const target of panel.targets) assert.equal(target.datasource?.uid, uid, `panel "${panel.title}"`);
  }
  const provider = await read("deploy/grafana/provisioning/dashboards/taskmesh.yml");
  const folder = /^\s+path: (\S+)$/m.exec(provider)?.[1];
  const compose = await read("docker-compose.yml");
  assert.ok(
    compose.includes(`./deploy/grafana/dashboards:${folder}:ro`),
    `compose mounts the dashboards at ${folder}`,
  );
  assert.ok(compose.includes("./deploy/grafana/provisioning:/etc/grafana/provisioning:ro"));
  assert.ok(compose.includes("./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"));
});

Deno.test("every compose service has a health check", async () => {
  const compose = await read("docker-compose.yml");
  const services = compose.slice(compose.indexOf("\nservices:\n"), compose.indexOf("\nvolumes:\n"));
  const blocks = services.split(/\n(?= {2}[a-z][\w-]*:\n)/).slice(1);
  const names = blocks.map((b) => b.trim().split(":")[0]);
  for (const name of ["prometheus", "grafana", "jaeger", "server", "postgres", "redis"]) {
    assert.ok(names.includes(name), `compose has ${name}`);
  }
  const without = blocks.filter((b) => !b.includes("\n    healthcheck:\n")).map((b) =>
    b.trim().split(":")[0]
  );
  assert.deepEqual(without, []);
});
