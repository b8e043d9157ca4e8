import { type FormEvent, useEffect, useRef, useState } from "react";
import { useMutation } from "@connectrpc/connect-query";
import { AuthService } from "../../../gen/taskmesh/auth/v1/auth_pb.ts";
import { Field, FormError, Notice } from "../components/field.tsx";
import { type FormErrors, formErrors, messageOf } from "../errors.ts";
import { Link, useLocation } from "../router.tsx";
import { useTokenFromUrl } from "./_token.ts";

/** The link in the verification mail lands here and verifies at once. */
export function VerifyEmailPage() {
  const { params } = useLocation();
  const token = useTokenFromUrl(params);
  const verify = useMutation(AuthService.method.verifyEmail);
  const started = useRef(false);

  useEffect(() => {
    if (token && !started.current) {
      started.current = true;
      verify.mutate({ token });
    }
  }, [token, verify]);

  return (
    <section className="card">
      <h1>Confirm your email</h1>
      {!token && (
        <FormError message="This page needs the link from the verification mail: open it from the mail." />
      )}
      {token && verify.isPending && <p role="status">Confirming…</p>}
      {verify.isSuccess && (
        <Notice>
          Your email address <strong>{verify.data.user?.email}</strong> is confirmed.{" "}
          <Link to="/login">Log in</Link>
        </Notice>
      )}
      {verify.isError && <FormError message={messageOf(verify.error)} />}
      {(verify.isError || !token) && <ResendVerification />}
    </section>
  );
}

/** Asks for a new verification mail. */
export function ResendVerification(props: { email?: string }) {
  const [email, setEmail] = useState(props.email ?? "");
  const [errors, setErrors] = useState<FormErrors>({ fields: {} });
  const resend = useMutation(AuthService.method.resendVerification);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setErrors({ fields: {} });
    resend.mutate({ email }, { onError: (err) => setErrors(formErrors(err, ["email"])) });
  };
  return (
    <form onSubmit={submit} className="secondary" noValidate>
      {props.email === undefined && (
        <Field
          name="email"
          label="Your email"
          type="email"
          value={email}
          onChange={setEmail}
          autoComplete="email"
          error={errors.fields.email}
        />
      )}
      <FormError message={errors.form} />
      {resend.isSuccess && (
        <Notice>If that address has an unconfirmed account, a new mail is on its way.</Notice>
      )}
      <button type="submit" className="ghost" disabled={resend.isPending}>
        Send a new verification mail
      </button>
    </form>
  );
}
