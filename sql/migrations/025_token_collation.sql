-- 025_token_collation.sql -- the text keys that are opaque tokens compare
-- byte by byte (COLLATE "C"), whatever the database's locale (issue #7).
--
-- A B-tree on a text column orders it by the column's collation. A database
-- created under a locale (en_US.UTF-8, C.UTF-8: what initdb and
-- pg_createcluster pick up from the system) compares such keys with the C
-- library's strcoll(), many times per index insert or lookup. An openid, a
-- session id or a client's message id has no linguistic order: byte order is
-- its natural order, and equality is the same either way (the locale's
-- collations are deterministic). Measured on the login statement, a batch of
-- 8 new users: see docs/database.md, "Collation of keys".
--
-- users.openid     unique; every login upserts by it
-- sessions.id      primary key; every login inserts one
-- message_cids.cid primary key (user_id, cid); every message with a cid
-- messages.cid     the same values, kept in the same collation
--
-- rooms.name keeps the database's collation: a DBA sorting chat_history by
-- room expects the locale's order, and a room is looked up by name once per
-- join, not per message.
--
-- The type stays text, so no table is rewritten; the indexes on these
-- columns are rebuilt, under an ACCESS EXCLUSIVE lock on their table. On a
-- large deployment run it at a quiet time (docs/database.md).

ALTER TABLE users ALTER COLUMN openid TYPE text COLLATE "C";
ALTER TABLE sessions ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE message_cids ALTER COLUMN cid TYPE text COLLATE "C";
ALTER TABLE messages ALTER COLUMN cid TYPE text COLLATE "C";
