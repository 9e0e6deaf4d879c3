-- The audit log as a hash chain: each entry's hash covers its fields and the previous
-- entry's hash, so a changed, removed or inserted entry shows (`veilpost audit verify`).
ALTER TABLE audit ADD COLUMN prev_hash TEXT;
ALTER TABLE audit ADD COLUMN hash TEXT;
