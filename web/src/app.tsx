/** The shell: header and navigation, and the page for the current path. */
import { type ReactNode, useEffect } from "react";
import { useSession, useSessionState } from "./context.ts";
import { Link, navigate, useLocation } from "./router.tsx";
import { AccountPage } from "./pages/account.tsx";
import { ChallengesPage } from "./pages/challenges.tsx";
import { ForgotPasswordPage } from "./pages/forgot_password.tsx";
import { LogInPage } from "./pages/log_in.tsx";
import { MailPage } from "./pages/mail.tsx";
import { ResetPasswordPage } from "./pages/reset_password.tsx";
import { SignUpPage } from "./pages/sign_up.tsx";
import { TagsPage } from "./pages/tags.tsx";
import { UnsubscribePage } from "./pages/unsubscribe.tsx";
import { VerifyEmailPage } from "./pages/verify_email.tsx";

const TITLES: Record<string, string> = {
  "/signup": "Sign up",
  "/login": "Log in",
  "/verify-email": "Confirm your email",
  "/forgot-password": "Forgot password",
  "/reset-password": "Reset password",
  "/account": "Account",
  "/tags": "Tags",
  "/mail": "Mail",
  "/challenges": "Your challenges",
  "/unsubscribe": "Unsubscribe",
};

export function App() {
  const { path } = useLocation();
  const state = useSessionState();
  const session = useSession();
  useEffect(() => {
    document.title = `${TITLES[path] ?? "Welcome"} · taskmesh`;
  }, [path]);

  let page: ReactNode;
  const signedIn = state.kind === "signed-in" ? state : undefined;
  const members = (render: () => ReactNode) => {
    if (state.kind === "restoring") return <p role="status">Loading…</p>;
    if (!signedIn) return <Redirect to={`/login?next=${encodeURIComponent(path)}`} />;
    // A password given once (the first admin's) allows nothing but choosing one's own.
    if (signedIn.user.passwordChangeRequired && path !== "/account") return <Redirect to="/account" />;
    return render();
  };
  switch (path) {
    case "/signup":
      page = <SignUpPage />;
      break;
    case "/login":
      page = signedIn ? <Redirect to="/tags" /> : <LogInPage />;
      break;
    case "/verify-email":
      page = <VerifyEmailPage />;
      break;
    case "/forgot-password":
      page = <ForgotPasswordPage />;
      break;
    case "/reset-password":
      page = <ResetPasswordPage />;
      break;
    case "/account":
      page = members(() => <AccountPage user={signedIn!.user} />);
      break;
    case "/tags":
      page = members(() => <TagsPage />);
      break;
    case "/mail":
      page = members(() => <MailPage />);
      break;
    case "/challenges":
      page = members(() => <ChallengesPage />);
      break;
    case "/unsubscribe":
      page = <UnsubscribePage />;
      break;
    default:
      page = state.kind === "restoring"
        ? <p role="status">Loading…</p>
        : <Redirect to={signedIn ? "/tags" : "/signup"} />;
  }

  return (
    <>
      <header className="top">
        <Link to="/" className="brand">taskmesh</Link>
        <nav aria-label="Main">
          {signedIn
            ? (
              <>
                <Link to="/tags">Tags</Link>
                <Link to="/mail">Mail</Link>
                <Link to="/challenges">Challenges</Link>
                <Link to="/account">Account</Link>
              </>
            )
            : (
              <>
                <Link to="/login">Log in</Link>
                <Link to="/signup">Sign up</Link>
              </>
            )}
        </nav>
      </header>
      <main>{page}</main>
      <footer className="bottom">
        {signedIn && <span>Signed in as {signedIn.user.email}</span>}
        {signedIn && (
          <button
            type="button"
            className="link"
            onClick={() => void session.logout().then(() => navigate("/login"))}
          >
            Sign out
          </button>
        )}
      </footer>
    </>
  );
}

function Redirect(props: { to: string }) {
  useEffect(() => navigate(props.to, { replace: true }), [props.to]);
  return null;
}
