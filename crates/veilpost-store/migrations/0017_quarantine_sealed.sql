-- Quarantined inbound mail waits sealed with the master key (context `quarantine:<id>`):
-- while this is set the message's blob is ciphertext and this its wrapped data key. A
-- release writes the message out again in the clear for delivery and clears it.
ALTER TABLE messages ADD COLUMN sealed_key BLOB;
