/**
 * Imported first by main.ts, so it runs before React and Ink load and read the
 * environment:
 *   - React reads NODE_ENV: its development build (extra checks on every render) is
 *     for tests, not for an operator's terminal.
 *   - Ink reads CI (and CONTINUOUS_INTEGRATION): when set, it assumes its output goes to
 *     a build log and draws only the last frame, at exit. An operator in a real terminal
 *     (a CI job's debug shell, a runner's ssh session) would see a blank screen, so a
 *     terminal on stdout wins over the variable.
 */
import process from "node:process";

process.env.NODE_ENV ??= "production";
if (Deno.stdout.isTerminal()) {
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
}
