import assert from "node:assert/strict";
import { editLine } from "./text_input.tsx";

Deno.test("a line being typed: characters, backspace, ctrl+u, ctrl+w, enter, esc", () => {
  assert.deepEqual(editLine("ab", "c", "c"), { value: "abc" });
  assert.deepEqual(editLine("ab", "space", " "), { value: "ab " });
  assert.deepEqual(editLine("abc", "backspace", ""), { value: "ab" });
  assert.deepEqual(editLine("abc def", "ctrl+w", "w"), { value: "abc " });
  assert.deepEqual(editLine("abc", "ctrl+u", "u"), { value: "" });
  assert.deepEqual(editLine("abc", "enter", ""), { value: "abc", done: "submit" });
  assert.deepEqual(editLine("abc", "esc", ""), { value: "abc", done: "cancel" });
  assert.deepEqual(editLine("abc", "up", ""), { value: "abc" });
  assert.deepEqual(editLine("abc", "tab", "\t"), { value: "abc" });
});
