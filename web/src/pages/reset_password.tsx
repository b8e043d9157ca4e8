import { type FormEvent, useState } from "react";
import { useMutation } from "@connectrpc/connect-query";
import { AuthService } from "../../../gen/taskmesh/auth/v1/auth_pb.ts";
import { Field, FormError, Notice } from "../components/field.tsx";
import { PasswordRules } from "../components/password_rules.tsx";
import { type FormErrors, formErrors } from "../errors.ts";
import { Link, useLocation } from "../router.tsx";
import { useTokenFromUrl } from "./_token.ts";

/** The link in the reset mail lands here. */
export function ResetPasswordPage() {
  const { params } = useLocation();
  const token = useTokenFromUrl(params);
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FormErrors>({ fields: {} });
  const reset = useMutation(AuthService.method.resetPassword);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setErrors({ fields: {} });
    reset.mutate(
      { token, newPassword: password },
      { onError: (err) => setErrors(formErrors(err, ["new_password", "token"])) },
    );
  };
  if (reset.isSuccess) {
    return (
      <section className="card">
        <h1>Choose a new password</h1>
        <Notice>
          Your password is changed and every session was signed out. <Link to="/login">Log in</Link>
        </Notice>
      </section>
    );
  }
  return (
    <section className="card">
      <h1>Choose a new password</h1>
      {!token && <FormError message="This page needs the link from the reset mail: open it from the mail." />}
      <form onSubmit={submit} noValidate>
        <Field
          name="new_password"
          label="New password"
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="new-password"
          error={errors.fields.new_password ?? errors.fields.token}
          hint={<PasswordRules password={password} />}
          autoFocus
        />
        <FormError message={errors.form}>
          <p>
            <Link to="/forgot-password">Ask for a new reset mail</Link>
          </p>
        </FormError>
        <button type="submit" disabled={reset.isPending || !token}>Set the new password</button>
      </form>
    </section>
  );
}
