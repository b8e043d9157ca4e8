import { type FormEvent, useState } from "react";
import { useMutation } from "@connectrpc/connect-query";
import { AuthService } from "../../../gen/taskmesh/auth/v1/auth_pb.ts";
import { Field, FormError, Notice } from "../components/field.tsx";
import { type FormErrors, formErrors } from "../errors.ts";

export function ForgotPasswordPage() {
  const [email, setEmail] = useState("");
  const [errors, setErrors] = useState<FormErrors>({ fields: {} });
  const request = useMutation(AuthService.method.requestPasswordReset);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setErrors({ fields: {} });
    request.mutate({ email }, { onError: (err) => setErrors(formErrors(err, ["email"])) });
  };
  return (
    <section className="card">
      <h1>Forgot your password?</h1>
      <p>We mail you a link to choose a new one.</p>
      <form onSubmit={submit} noValidate>
        <Field
          name="email"
          label="Email"
          type="email"
          value={email}
          onChange={setEmail}
          autoComplete="email"
          error={errors.fields.email}
          autoFocus
        />
        <FormError message={errors.form} />
        {request.isSuccess && (
          <Notice>
            If an account uses that address, a mail with a reset link is on its way. It works for an hour.
          </Notice>
        )}
        <button type="submit" disabled={request.isPending}>Send the reset link</button>
      </form>
    </section>
  );
}
