-- A reply names the user message it answers, so that a message sent while
-- an earlier reply was still streaming forms its own turn: replies sort
-- right after the message they answer (see the load order in threads.go).
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
