/** The server's password rules, checked as the person types (the server checks them again). */

const MIN = 12;
const MAX = 128;

export function PasswordRules(props: { password: string; email?: string }) {
  const length = [...props.password].length;
  const sameAsEmail = !!props.email &&
    props.password.trim().toLowerCase() === props.email.trim().toLowerCase();
  const rules = [
    {
      ok: length >= MIN,
      text: `At least ${MIN} characters (${length} so far): a few words in a row make a strong one`,
    },
    { ok: length > 0 && length <= MAX, text: `At most ${MAX} characters` },
    ...(props.email === undefined
      ? []
      : [{ ok: length > 0 && !sameAsEmail, text: "Not your email address" }]),
    { ok: undefined, text: "Not one of the most common passwords (checked when you submit)" },
  ];
  return (
    <ul className="rules" aria-live="polite" data-testid="password-rules">
      {rules.map((r) => (
        <li key={r.text} className={r.ok === undefined ? "" : r.ok ? "ok" : "todo"}>
          <span aria-hidden="true">{r.ok === undefined ? "•" : r.ok ? "✓" : "○"}</span> {r.text}
          {r.ok !== undefined && <span className="sr-only">{r.ok ? " (met)" : " (not met yet)"}</span>}
        </li>
      ))}
    </ul>
  );
}
