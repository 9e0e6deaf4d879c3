-- Files a patient attached to a contact-form message that was sent back for a fix (a
-- refused file, a phone number that is none): kept sealed (context `intake-files:<id>`)
-- so they need not be chosen again; gone when the message is sent or the form forgotten.
ALTER TABLE intake ADD COLUMN kept_blob TEXT;
ALTER TABLE intake ADD COLUMN kept_key BLOB;
