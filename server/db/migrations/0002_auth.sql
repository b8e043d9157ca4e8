-- Accounts, sessions, signing keys, API keys and the one-time tokens sent by mail.
-- Every secret is stored as a hash (SHA-256 for high-entropy tokens, argon2id for
-- passwords); times come from the application's clock, so no column defaults to now().

create table users (
  id uuid primary key,
  -- As entered; uniqueness and lookups use lower(email).
  email text not null,
  display_name text not null,
  -- argon2id PHC string; its parameters tell login when to re-hash.
  password_hash text not null,
  role text not null check (role in ('member', 'viewer', 'operator', 'admin')),
  email_verified_at timestamptz,
  disabled_at timestamptz,
  disabled_reason text,
  created_at timestamptz not null,
  last_login_at timestamptz
);

create unique index users_email_lower_idx on users (lower(email));
-- ListUsers pages by (created_at, id) and filters prefixes on lower(email).
create index users_created_idx on users (created_at, id);
create index users_email_prefix_idx on users (lower(email) text_pattern_ops);

-- A refresh family is one session: every token rotated from one login.
create table refresh_families (
  id uuid primary key,
  user_id uuid not null references users (id) on delete cascade,
  created_at timestamptz not null,
  -- The session ends here however often it is refreshed.
  absolute_expires_at timestamptz not null,
  revoked_at timestamptz,
  -- logout, logout_all, reuse, password_reset, user_disabled
  revoke_reason text
);

create index refresh_families_user_live_idx on refresh_families (user_id) where revoked_at is null;

create table refresh_tokens (
  id uuid primary key,
  family_id uuid not null references refresh_families (id) on delete cascade,
  token_hash bytea not null unique,
  created_at timestamptz not null,
  -- Idle limit: unused until then, the token is dead (never past the family's absolute limit).
  expires_at timestamptz not null,
  -- Set when the token was exchanged; presenting it again is reuse.
  rotated_at timestamptz,
  replaced_by uuid references refresh_tokens (id),
  -- A rotated token may be presented once more inside the grace period (two tabs).
  grace_used boolean not null default false
);

create index refresh_tokens_family_idx on refresh_tokens (family_id);

create table signing_keys (
  -- RFC 7638 thumbprint of the public key.
  kid text primary key,
  algorithm text not null,
  public_jwk jsonb not null,
  -- The private JWK as JSON, or AES-256-GCM ciphertext of it when private_key_encrypted.
  private_key text not null,
  private_key_encrypted boolean not null,
  created_at timestamptz not null,
  -- When it stopped signing; null for the current key.
  retired_at timestamptz,
  -- Published in the JWKS until every token it signed has expired.
  publish_until timestamptz
);

create index signing_keys_created_idx on signing_keys (created_at desc);

create table api_keys (
  id uuid primary key,
  owner_id uuid not null references users (id) on delete cascade,
  name text not null,
  scopes text[] not null,
  -- The first characters of the secret, shown in lists so people recognise a key.
  prefix text not null,
  secret_hash bytea not null unique,
  created_at timestamptz not null,
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz
);

-- Lists are newest first, per owner or across all owners for admins.
create index api_keys_owner_idx on api_keys (owner_id, created_at desc, id desc);
create index api_keys_created_idx on api_keys (created_at desc, id desc);

create table email_tokens (
  id uuid primary key,
  user_id uuid not null references users (id) on delete cascade,
  purpose text not null check (purpose in ('verify_email', 'reset_password')),
  token_hash bytea not null unique,
  created_at timestamptz not null,
  expires_at timestamptz not null,
  used_at timestamptz
);

create index email_tokens_user_idx on email_tokens (user_id, purpose) where used_at is null;
