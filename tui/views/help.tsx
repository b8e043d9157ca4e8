/** The `?` overlay: every key that works here, for this operator. */
import { Box, Text } from "ink";
import type { Capabilities } from "../data/capabilities.ts";
import { type Binding, bindingsFor, GLOBAL_BINDINGS, LIST_BINDINGS, type ViewId } from "../keys.ts";
import { VIEWS } from "./registry.ts";
import { gap } from "../data/format.ts";

function Section({ title, bindings, width }: { title: string; bindings: readonly Binding[]; width: number }) {
  return (
    <Box flexDirection="column" width={width} marginBottom={1}>
      <Text bold>{title}</Text>
      {bindings.length === 0 ? <Text dimColor>no keys of its own</Text> : null}
      {bindings.map((b) => (
        <Text key={b.action} wrap="truncate">
          <Text color="cyan">{b.keys.join(" ").padEnd(14)}</Text>
          {b.help}
          {b.confirm ? <Text dimColor>{gap(1)}(asks first)</Text> : null}
        </Text>
      ))}
    </Box>
  );
}

export function HelpOverlay(
  { view, caps, readOnly, width }: { view: ViewId; caps: Capabilities; readOnly: boolean; width: number },
) {
  const title = VIEWS.find((v) => v.id === view)?.title ?? view;
  const half = Math.max(30, Math.floor((width - 2) / 2));
  return (
    <Box flexDirection="column">
      <Text bold>Keys (esc or ? to close)</Text>
      <Box marginTop={1}>
        <Box flexDirection="column" width={half}>
          <Section title="Everywhere" bindings={GLOBAL_BINDINGS} width={half} />
          <Section title="Lists" bindings={LIST_BINDINGS} width={half} />
        </Box>
        <Box flexDirection="column" width={half}>
          <Section title={title} bindings={bindingsFor(view, caps)} width={half} />
          {!caps.operate
            ? (
              <Text color="yellow">
                {readOnly
                  ? "Read-only: action keys are off (--read-only)."
                  : "Your role can look but not act."}
              </Text>
            )
            : null}
        </Box>
      </Box>
      <Text dimColor wrap="truncate-end">
        Views: {VIEWS.map((v, i) => `${i + 1} ${v.title} (:${v.id})`).join(" · ")}
      </Text>
    </Box>
  );
}
