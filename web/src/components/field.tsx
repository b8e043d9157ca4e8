/** A labelled input with its hint and its error right below it, wired for screen readers. */
import type { ReactNode } from "react";

export interface FieldProps {
  /** The proto field name the server uses in its messages; also the input's id and name. */
  name: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  type?: "text" | "email" | "password";
  autoComplete?: string;
  error?: string;
  hint?: ReactNode;
  required?: boolean;
  autoFocus?: boolean;
  maxLength?: number;
}

export function Field(props: FieldProps) {
  const id = `field-${props.name}`;
  const describedBy = [props.hint ? `${id}-hint` : "", props.error ? `${id}-error` : ""].filter(Boolean)
    .join(" ");
  return (
    <div className={props.error ? "field invalid" : "field"}>
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? "text"}
        value={props.value}
        autoComplete={props.autoComplete}
        required={props.required}
        autoFocus={props.autoFocus}
        maxLength={props.maxLength}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={describedBy || undefined}
        onChange={(e) => props.onChange(e.target.value)}
      />
      {props.hint && <div id={`${id}-hint`} className="hint">{props.hint}</div>}
      {props.error && <div id={`${id}-error`} className="error" role="alert">{props.error}</div>}
    </div>
  );
}

export function FormError(props: { message?: string; children?: ReactNode }) {
  if (!props.message) return null;
  return (
    <div className="form-error" role="alert" data-testid="form-error">
      <p>{props.message}</p>
      {props.children}
    </div>
  );
}

export function Notice(props: { children: ReactNode }) {
  return <div className="notice" role="status" data-testid="notice">{props.children}</div>;
}
