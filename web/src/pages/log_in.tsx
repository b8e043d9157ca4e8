import { type FormEvent, useState } from "react";
import { Code, ConnectError } from "@connectrpc/connect";
import { Field, FormError } from "../components/field.tsx";
import { useSession } from "../context.ts";
import { type FormErrors, formErrors } from "../errors.ts";
import { Link, navigate, useLocation } from "../router.tsx";
import { ResendVerification } from "./verify_email.tsx";

export function LogInPage() {
  const session = useSession();
  const { params } = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FormErrors>({ fields: {} });
  const [pending, setPending] = useState(false);
  const [unverified, setUnverified] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setErrors({ fields: {} });
    setUnverified(false);
    setPending(true);
    try {
      await session.login(email, password);
      const next = params.get("next");
      navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/tags", { replace: true });
    } catch (err) {
      setErrors(formErrors(err, ["email", "password"]));
      // Not verified yet: the way out is a new mail, offered right there.
      setUnverified(ConnectError.from(err).code === Code.FailedPrecondition);
    } finally {
      setPending(false);
    }
  };

  return (
    <section className="card">
      <h1>Log in</h1>
      <form onSubmit={submit} noValidate>
        <Field
          name="email"
          label="Email"
          type="email"
          value={email}
          onChange={setEmail}
          autoComplete="username"
          error={errors.fields.email}
          autoFocus
        />
        <Field
          name="password"
          label="Password"
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="current-password"
          error={errors.fields.password}
        />
        <FormError message={errors.form} />
        <button type="submit" disabled={pending}>{pending ? "Logging in…" : "Log in"}</button>
      </form>
      {unverified && <ResendVerification email={email} />}
      <p className="aside">
        <Link to="/forgot-password">Forgot your password?</Link> · New here? <Link to="/signup">Sign up</Link>
      </p>
    </section>
  );
}
