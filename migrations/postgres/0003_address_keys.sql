-- Usernames and email addresses compare ASCII letters without case and
-- every other character exactly (SECURITY.md): no Unicode case folding, so
-- a look-alike address never matches an account.
UPDATE users SET email_key = translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
    WHERE email IS NOT NULL;
UPDATE users SET username_key = translate(username, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');
