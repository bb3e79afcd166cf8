-- Usernames and email addresses compare ASCII letters without case and
-- every other character exactly (SECURITY.md): no Unicode case folding, so
-- a look-alike address never matches an account. SQLite's lower() folds
-- ASCII only.
UPDATE users SET email_key = lower(email) WHERE email IS NOT NULL;
UPDATE users SET username_key = lower(username);
