-- How a recipient's portal session was proven: `sms`, `email`, `access_code` or `totp`.
-- Only a factor the recipient alone holds (SMS, an existing TOTP app) may link a new
-- authenticator app; the sender knows the access code. NULL (older sessions): unknown,
-- treated as not the recipient's own.
ALTER TABLE portal_sessions ADD COLUMN factor TEXT;
