-- 022_history_indexes.sql -- the indexes behind the DBA queries of
-- sql/README.md (issue #6). Indexes on the partitioned messages table are
-- created on every partition, present and future.
--
-- The primary key (room_id, seq, created_at) already serves "a conversation
-- around an id" and "last message per room".

-- Trigram search (content ILIKE '%words%'); pg_trgm ships in
-- postgresql-contrib and is a trusted extension.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

-- A room's history between two times.
CREATE INDEX messages_room_created_idx ON messages (room_id, created_at);
-- A user's messages, newest first (and the FK check when a user is deleted).
CREATE INDEX messages_user_created_idx ON messages (user_id, created_at);
-- Recent messages across rooms (last hour, active today) and retention.
CREATE INDEX messages_created_idx ON messages (created_at);
-- Search in text messages (queries must say kind = 'text').
CREATE INDEX messages_text_trgm_idx ON messages USING gin (content gin_trgm_ops)
    WHERE kind = 'text';
