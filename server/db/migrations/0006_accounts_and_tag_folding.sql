-- Accounts: a password that must be changed before anything else (the first admin's,
-- printed once by the start banner).
--
-- Tags: name keys move from lower-case to full Unicode case folding (server/tags/_names.ts:
-- NFKC, then upper- and lower-casing, so "Straße" and "STRASSE" are one name). The key is
-- computed in TypeScript, so this file re-keys only what SQL can fold exactly: names of
-- printable ASCII, whose lower-case form is already their folded form. The server re-keys
-- the rest when it starts (server/tags/refold.ts), row by row, and keeps naming in its log
-- the rows whose folded key another row already holds, until an admin renames one.

alter table users add column password_change_required boolean not null default false;
-- When a start last printed a one-time password for the first admin; a later start replaces
-- a password nobody used only once this is a while ago (server/auth/first_admin.ts).
alter table users add column one_time_password_at timestamptz;

-- Rows that exist now are unfolded; rows inserted from now on are written folded.
alter table tags add column name_key_folded boolean not null default false;
alter table tags alter column name_key_folded set default true;
alter table tag_names add column name_key_folded boolean not null default false;
alter table tag_names alter column name_key_folded set default true;
alter table tag_suggestions add column name_key_folded boolean not null default false;
alter table tag_suggestions alter column name_key_folded set default true;

update tags set name_key_folded = true where name ~ '^[ -~]*$';
update tag_names set name_key_folded = true where name ~ '^[ -~]*$';
update tag_suggestions set name_key_folded = true where name ~ '^[ -~]*$';

-- What the start-up re-keying scans for.
create index tags_unfolded_idx on tags (id) where not name_key_folded;
create index tag_names_unfolded_idx on tag_names (tag_id) where not name_key_folded;
create index tag_suggestions_unfolded_idx on tag_suggestions (id) where not name_key_folded;
