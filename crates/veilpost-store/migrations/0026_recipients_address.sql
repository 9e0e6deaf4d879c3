-- Whether the organisation wrote to an address before (the double-check's new-recipient
-- rule, per outside recipient) compares lower(address): indexed as on PostgreSQL, instead
-- of a scan of every recipient row ever kept.
CREATE INDEX recipients_address ON recipients(lower(address));
