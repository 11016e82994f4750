-- 026_search_blocks.sql -- the text search indexes blocks of messages
-- instead of each message (issue #7, scenario e). What a search finds is
-- unchanged (issue #6's "search by text with an index that makes it fast");
-- what an insert costs is not.
--
-- 022's trigram index on messages.content took each message's trigrams one
-- message at a time: about 35 index entries for a short message, written to
-- the GIN pending list and then merged into the index, 108,000 of the
-- 233,000 instructions PostgreSQL spent per message in the relay's batches
-- (callgrind, docs/bench.md, "(e) Publish throughput"). The messages of one
-- statement in one room share most of their trigrams (the same words, the
-- same digits), so the index now holds one block per room and statement:
-- the text of those messages, one per line, with the room and the range of
-- ids it covers. A relay's batch of 286 messages in 5 rooms makes 5 blocks;
-- a message inserted on its own makes a block of one.
--
-- A search finds the blocks whose text matches, then, in messages, the text
-- messages of those blocks that match themselves (chat_search below): a
-- block that matches only across the line break between two messages, or
-- only through a message since edited or deleted, yields no row.
-- Every text message is in a block holding its current content:
--  * INSERT into messages adds the blocks of the statement's rows;
--  * UPDATE adds a block for every updated text row (its new content; the
--    old block still holds the old text and only matches as a false hit);
--  * DELETE leaves the blocks: a deleted message is not in messages, so it
--    is never returned;
--  * chat_drop_partitions deletes the blocks of the months it removes, so
--    the retention removes the text there too.
-- Like the notification and reference triggers, these are statement
-- triggers of messages: rows inserted straight into a partition, or with
-- triggers disabled (session_replication_role = replica), get no block.

-- No insert may commit between the copy of the existing messages below and
-- the triggers' creation: hold off writers (the relays wait) until commit.
-- The copy and the index build take about 7 s for 1.3 million messages here.
LOCK TABLE messages IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE message_search (
    room_id     bigint NOT NULL,
    created_at  timestamptz NOT NULL,   -- the messages' created_at
    first_seq   bigint NOT NULL,        -- the ids the block covers: messages of
    last_seq    bigint NOT NULL,        -- room_id and created_at in first..last
    body        text NOT NULL           -- their contents, one per line
);
COMMENT ON TABLE message_search IS
    'Blocks of text messages for the trigram search (chat_search); see sql/README.md.';

-- The existing text messages, in blocks of the same room and time.
INSERT INTO message_search (room_id, created_at, first_seq, last_seq, body)
SELECT room_id, created_at, min(seq), max(seq), string_agg(content, E'\n' ORDER BY seq)
FROM messages
WHERE kind = 'text'
GROUP BY room_id, created_at;

CREATE INDEX message_search_body_idx ON message_search USING gin (body gin_trgm_ops);
-- For the retention's deletes; blocks arrive in time order, so a BRIN index
-- costs next to nothing per insert.
CREATE INDEX message_search_created_idx ON message_search USING brin (created_at);
DROP INDEX messages_text_trgm_idx;

-- new_rows: the statement's inserted or updated messages.
CREATE FUNCTION chat_search_blocks_add() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO message_search (room_id, created_at, first_seq, last_seq, body)
    SELECT n.room_id, n.created_at, min(n.seq), max(n.seq),
           string_agg(n.content, E'\n' ORDER BY n.seq)
    FROM new_rows n
    WHERE n.kind = 'text'
    GROUP BY n.room_id, n.created_at;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION chat_search_blocks_add() FROM PUBLIC;
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION chat_search_blocks_add();
CREATE TRIGGER messages_search_update AFTER UPDATE ON messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION chat_search_blocks_add();

-- The text messages whose content contains p_words (ILIKE: case-insensitive;
-- % and _ in p_words are wildcards), in the columns of chat_history, in no
-- particular order. A plain SQL function, so PostgreSQL plans its query
-- inside the caller's (and uses message_search_body_idx).
CREATE FUNCTION chat_search(p_words text) RETURNS SETOF chat_history
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (m.room_id, m.seq)
           r.name, m.seq, m.created_at, m.user_id, u.nickname, m.kind, m.content
    FROM message_search s
    JOIN messages m ON m.room_id = s.room_id AND m.created_at = s.created_at
                   AND m.seq BETWEEN s.first_seq AND s.last_seq
    JOIN rooms r ON r.id = m.room_id
    LEFT JOIN users u ON u.id = m.user_id
    WHERE s.body ILIKE '%' || p_words || '%'
      AND m.kind = 'text' AND m.content ILIKE '%' || p_words || '%'
    ORDER BY m.room_id, m.seq
$$;
COMMENT ON FUNCTION chat_search(text) IS
    'Text messages containing the words (ILIKE), as chat_history rows, through message_search. See sql/README.md.';

GRANT SELECT ON message_search TO chat_dba;
GRANT EXECUTE ON FUNCTION chat_search(text) TO chat_dba;

-- Retention: as 021's, and the blocks of the removed months go with them.
CREATE OR REPLACE FUNCTION chat_drop_partitions(retention interval, archive boolean DEFAULT false) RETURNS int
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    cutoff timestamptz := now() - retention;
    m timestamp;
    p record;
    removed int := 0;
BEGIN
    IF retention < interval '0' THEN
        RAISE EXCEPTION 'chat_drop_partitions: retention must not be negative, not %', retention;
    END IF;
    FOR m IN SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC')
             FROM messages_default WHERE created_at < cutoff ORDER BY 1 LOOP
        IF (m + interval '1 month') AT TIME ZONE 'UTC' <= cutoff THEN
            PERFORM chat_create_partition(m AT TIME ZONE 'UTC');
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM chat_partitions WHERE schema = 'public' AND range_end <= cutoff) THEN
        PERFORM chat_lock_for_partitioning();
    END IF;
    FOR p IN SELECT partition, range_start, range_end FROM chat_partitions
             WHERE schema = 'public' AND range_end <= cutoff ORDER BY range_start LOOP
        IF archive THEN
            IF to_regclass(format('chat_archive.%I', p.partition)) IS NOT NULL THEN
                RAISE EXCEPTION 'chat_drop_partitions: chat_archive.% exists already: dump and drop it first',
                    p.partition;
            END IF;
            EXECUTE format('ALTER TABLE messages DETACH PARTITION %I', p.partition);
            EXECUTE format('ALTER TABLE %I SET SCHEMA chat_archive', p.partition);
            RAISE NOTICE 'partition % archived as chat_archive.%', p.partition, p.partition;
        ELSE
            EXECUTE format('DROP TABLE %I', p.partition);
            RAISE NOTICE 'partition % dropped', p.partition;
        END IF;
        DELETE FROM message_search WHERE created_at >= p.range_start AND created_at < p.range_end;
        removed := removed + 1;
    END LOOP;
    DELETE FROM message_cids c
    WHERE c.created_at < cutoff
      AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.room_id = c.room_id AND m.seq = c.seq);
    RETURN removed;
END
$$;
REVOKE ALL ON FUNCTION chat_drop_partitions(interval, boolean) FROM PUBLIC;
