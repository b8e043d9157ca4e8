import { type FormEvent, useState } from "react";
import { useMutation } from "@connectrpc/connect-query";
import { AuthService, type User } from "../../../gen/taskmesh/auth/v1/auth_pb.ts";
import { Field, FormError, Notice } from "../components/field.tsx";
import { PasswordRules } from "../components/password_rules.tsx";
import { useSession } from "../context.ts";
import { type FormErrors, formErrors, messageOf } from "../errors.ts";
import { navigate } from "../router.tsx";
import { Code, ConnectError } from "@connectrpc/connect";

export function AccountPage(props: { user: User }) {
  const session = useSession();
  const [signOutError, setSignOutError] = useState<string>();
  const signOut = async (everywhere: boolean) => {
    setSignOutError(undefined);
    try {
      if (everywhere) await session.logoutEverywhere();
      else await session.logout();
      navigate("/login", { replace: true });
    } catch (err) {
      setSignOutError(messageOf(err));
    }
  };
  return (
    <>
      <section className="card">
        <h1>Your account</h1>
        <dl className="facts">
          <dt>Name</dt>
          <dd>{props.user.displayName}</dd>
          <dt>Email</dt>
          <dd data-testid="account-email">{props.user.email}</dd>
        </dl>
        {props.user.passwordChangeRequired && (
          <Notice>Your password was given to you once: choose your own below before anything else.</Notice>
        )}
      </section>
      <ChangePassword email={props.user.email} />
      <section className="card">
        <h2>Sign out</h2>
        <FormError message={signOutError} />
        <div className="row">
          <button type="button" className="ghost" onClick={() => void signOut(false)}>Sign out</button>
          <button type="button" className="danger" onClick={() => void signOut(true)}>
            Sign out everywhere
          </button>
        </div>
      </section>
    </>
  );
}

function ChangePassword(props: { email: string }) {
  const session = useSession();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [errors, setErrors] = useState<FormErrors>({ fields: {} });
  const change = useMutation(AuthService.method.changePassword);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setErrors({ fields: {} });
    change.mutate({ currentPassword: current, newPassword: next }, {
      onSuccess: (res) => {
        void session.adopt(res.tokens);
        setCurrent("");
        setNext("");
      },
      onError: (err) => {
        // A wrong current password is PERMISSION_DENIED: it belongs next to that field.
        const e = ConnectError.from(err);
        if (e.code === Code.PermissionDenied) setErrors({ fields: { current_password: messageOf(e) } });
        else setErrors(formErrors(err, ["current_password", "new_password"]));
      },
    });
  };
  return (
    <section className="card">
      <h2>Change password</h2>
      <form onSubmit={submit} noValidate>
        <Field
          name="current_password"
          label="Current password"
          type="password"
          value={current}
          onChange={setCurrent}
          autoComplete="current-password"
          error={errors.fields.current_password}
        />
        <Field
          name="new_password"
          label="New password"
          type="password"
          value={next}
          onChange={setNext}
          autoComplete="new-password"
          error={errors.fields.new_password}
          hint={<PasswordRules password={next} email={props.email} />}
        />
        <FormError message={errors.form} />
        {change.isSuccess && (
          <Notice>
            Password changed. {change.data.revokedSessions === 1
              ? "1 other session was signed out."
              : `${change.data.revokedSessions} other sessions were signed out.`}
          </Notice>
        )}
        <button type="submit" disabled={change.isPending}>Change password</button>
      </form>
    </section>
  );
}
