-- The double-check: a message held until its sender confirms (or cancels) it.
ALTER TABLE messages ADD COLUMN hold_token_hash TEXT;   -- SHA-256 of the confirm link's token
ALTER TABLE messages ADD COLUMN held_reasons TEXT;      -- JSON list of the rules that held it
ALTER TABLE messages ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX messages_hold ON messages(hold_token_hash);
