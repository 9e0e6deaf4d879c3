-- Upload requests: a portal message whose point is that the recipient sends documents back
-- (staff tag the mail `[upload]`).
ALTER TABLE vault ADD COLUMN upload INTEGER NOT NULL DEFAULT 0;
