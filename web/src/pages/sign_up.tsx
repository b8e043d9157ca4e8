import { type FormEvent, useState } from "react";
import { useMutation } from "@connectrpc/connect-query";
import { AuthService } from "../../../gen/taskmesh/auth/v1/auth_pb.ts";
import { Field, FormError, Notice } from "../components/field.tsx";
import { PasswordRules } from "../components/password_rules.tsx";
import { type FormErrors, formErrors } from "../errors.ts";
import { Link } from "../router.tsx";
import { ResendVerification } from "./verify_email.tsx";

const FIELDS = ["email", "password", "display_name"] as const;

export function SignUpPage() {
  const [displayName, setDisplayName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FormErrors>({ fields: {} });
  const register = useMutation(AuthService.method.register);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setErrors({ fields: {} });
    register.mutate({ email, password, displayName }, {
      onError: (err) => setErrors(formErrors(err, FIELDS)),
    });
  };

  if (register.isSuccess) {
    return (
      <section className="card">
        <h1>Check your mail</h1>
        <Notice>
          We sent a link to{" "}
          <strong>{register.data.user?.email}</strong>. Open it to confirm your address, then log in.
        </Notice>
        <ResendVerification email={email} />
      </section>
    );
  }

  return (
    <section className="card">
      <h1>Sign up</h1>
      <form onSubmit={submit} noValidate>
        <Field
          name="display_name"
          label="Your name"
          value={displayName}
          onChange={setDisplayName}
          autoComplete="name"
          error={errors.fields.display_name}
          maxLength={100}
          required
          autoFocus
        />
        <Field
          name="email"
          label="Email"
          type="email"
          value={email}
          onChange={setEmail}
          autoComplete="email"
          error={errors.fields.email}
          required
        />
        <Field
          name="password"
          label="Password"
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="new-password"
          error={errors.fields.password}
          hint={<PasswordRules password={password} email={email} />}
          required
        />
        <FormError message={errors.form} />
        <button type="submit" disabled={register.isPending}>
          {register.isPending ? "Signing up…" : "Sign up"}
        </button>
      </form>
      <p className="aside">
        Already a member? <Link to="/login">Log in</Link>
      </p>
    </section>
  );
}
