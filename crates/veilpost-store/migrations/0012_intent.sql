-- What the sender asked for when the message did not come by SMTP (web compose): the
-- secure route, an SMS number, a ZIP, an upload request, as JSON. NULL for SMTP
-- submissions, whose subject tags the processor reads.
ALTER TABLE messages ADD COLUMN intent TEXT;
