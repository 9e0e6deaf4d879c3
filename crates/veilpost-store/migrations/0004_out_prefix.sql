-- The delivered form as the received blob with a prefix (the DKIM-Signature header), so
-- that signing does not cost a second durable copy of every message.
ALTER TABLE messages ADD COLUMN out_prefix BLOB;
