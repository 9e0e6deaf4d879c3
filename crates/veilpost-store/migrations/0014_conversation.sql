-- The message's subject, sealed with the master key apart from the content (context
-- `subject:<vault id>`), so a sender's list of messages shows it without opening every
-- message. Shredding clears it with the content.
ALTER TABLE vault ADD COLUMN subject_key BLOB;
ALTER TABLE vault ADD COLUMN subject_sealed BLOB;

-- The recipient's own replies, kept with the message they answer (sealed like it, context
-- `reply:<id>`) so the message page shows the conversation; they go when it is shredded.
CREATE TABLE portal_replies (
    id          TEXT PRIMARY KEY,
    vault_id    TEXT NOT NULL REFERENCES vault(id),
    blob        TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX portal_replies_vault ON portal_replies(vault_id);
