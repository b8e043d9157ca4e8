/**
 * A one-line text field. The view owns its value and feeds it key presses through
 * `editLine`, so typing into a filter never reaches the global keys.
 */
import { Text } from "ink";

export type Edit = { value: string; done?: "submit" | "cancel" };

const isControl = (ch: string) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f;

/** What a key press does to a line being typed. Pure. */
export function editLine(value: string, key: string, input: string): Edit {
  switch (key) {
    case "enter":
      return { value, done: "submit" };
    case "esc":
      return { value, done: "cancel" };
    case "backspace":
      return { value: value.slice(0, -1) };
    case "ctrl+u":
      return { value: "" };
    case "ctrl+w":
      return { value: value.replace(/\S*\s*$/, "") };
    default:
      // Printable text, including a paste of several characters.
      if (input && !key.startsWith("ctrl+") && ![...input].some(isControl)) {
        return { value: value + input };
      }
      return { value };
  }
}

export function TextField(
  props: { label: string; value: string; focused?: boolean; mask?: boolean; placeholder?: string },
) {
  const shown = props.mask ? "•".repeat(props.value.length) : props.value;
  return (
    <Text>
      <Text bold={props.focused} color={props.focused ? "cyan" : undefined}>{props.label}</Text>
      {shown || !props.placeholder ? <Text>{shown}</Text> : <Text dimColor>{props.placeholder}</Text>}
      {props.focused ? <Text inverse></Text> : null}
    </Text>
  );
}
