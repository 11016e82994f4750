-- 020_history_view.sql -- the DBA's window on the chat: the chat_history
-- view and what the read-only role chat_dba may read (issue #6).
--
-- chat_dba reads rooms, messages, the public columns of users, the views
-- chat_history and chat_partitions, and schema_migrations. It reads nothing
-- secret: not sessions (skey hashes, WeChat session keys), not message_cids,
-- and not users.openid / users.unionid: an openid is the user's stable
-- WeChat identity for this app (it addresses the user in WeChat's APIs and
-- links them across systems), so it is personal data; DBAs name users by
-- users.id, the public id that clients see as "uid". chat_dba writes nothing.

-- One row per message, in the words of the wire protocol.
CREATE VIEW chat_history AS
SELECT r.name      AS room,
       m.seq       AS id,
       m.created_at AS time,
       m.user_id   AS sender_id,
       u.nickname  AS sender_nickname,
       m.kind,
       m.content
FROM messages m
JOIN rooms r ON r.id = m.room_id
LEFT JOIN users u ON u.id = m.user_id;

COMMENT ON VIEW chat_history IS
    'One row per message: room name, the room sequence (wire "id"), time, sender, kind, content. See sql/README.md.';
COMMENT ON COLUMN chat_history.room IS 'rooms.name';
COMMENT ON COLUMN chat_history.id IS 'the room''s gap-free sequence number, the "id" clients see';
COMMENT ON COLUMN chat_history.time IS 'when the message was stored (messages.created_at)';
COMMENT ON COLUMN chat_history.sender_id IS 'users.id, the public "uid"; NULL for an announcement';
COMMENT ON COLUMN chat_history.sender_nickname IS 'the sender''s current nickname; NULL for an announcement';
COMMENT ON COLUMN chat_history.kind IS 'text or image';
COMMENT ON COLUMN chat_history.content IS 'the text, or the image URL';

-- The partitions of messages with their ranges, newest last.
CREATE VIEW chat_partitions AS
SELECT n.nspname AS schema,
       c.relname AS partition,
       (regexp_match(b.bound, 'FROM \(''([^'']+)''\)'))[1]::timestamptz AS range_start,
       (regexp_match(b.bound, 'TO \(''([^'']+)''\)'))[1]::timestamptz AS range_end,
       b.bound = 'DEFAULT' AS is_default,
       c.reltuples::bigint AS approx_rows,
       pg_total_relation_size(c.oid) AS bytes
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) b
WHERE i.inhparent = 'messages'::regclass;

COMMENT ON VIEW chat_partitions IS
    'Partitions of messages: name, [range_start, range_end) (NULL for the default partition), approximate rows, size.';

-- Grants: read-only, public columns only.
GRANT SELECT ON chat_history, chat_partitions, rooms, messages, schema_migrations TO chat_dba;
GRANT SELECT (id, nickname, avatar_url, gender, city, province, country, language,
              created_at, updated_at) ON users TO chat_dba;

-- Belt and braces: a chat_dba session starts read-only (the privileges above
-- are what actually forbid writes).
ALTER ROLE chat_dba SET default_transaction_read_only = on;
