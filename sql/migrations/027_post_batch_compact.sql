-- 027_post_batch_compact.sql -- less work per message in the relay's batch
-- insert (issue #7, scenario e), counted by tools/pg-instr.sh: 161,822
-- instructions per message before, 137,087 after (batches of 286 messages
-- in 5 rooms, N = 20; docs/bench.md, "Counting PostgreSQL's instructions").
-- Each change's count, on top of those above it unless it says "alone":
--
--  * chat_post_batch_compact: 024's chat_post_batch with a shorter answer.
--    A batch with no cid and live sessions (the fast path) is answered with
--    one row per room and one per distinct sender instead of one row per
--    message with the sender's name: the relay has the batch, so it numbers
--    the messages itself from each room's first number, in batch order
--    (relay/post_answer.c). That is one probe of users per sender instead of
--    per message, and no sorted row per message (-5,800). The answer's time
--    is computed once (-2,600). The messages are numbered in the INSERT
--    itself (a window function over each room's messages in batch order),
--    not first into an array sorted back into batch order and unnested
--    again (-9,800). Other batches get the checked path's rows, one per
--    message, as before. 024's chat_post_batch stays, for relays not yet
--    upgraded.
--  * The created_at index of messages is a BRIN index (-4,800 alone): rows
--    arrive in time order, so block ranges serve "the last hour" and
--    "today" well, and a BRIN index costs next to nothing per insert.
--  * The search blocks' text is not sorted by number (-1,700 alone): a
--    block only has to hold every message's text, in any order, for
--    chat_search to find it (026).

-- Read by the last_hour and active_today queries of sql/README.md and by
-- the retention (021); every partition, present and future, gets it.
DROP INDEX messages_created_idx;
CREATE INDEX messages_created_idx ON messages USING brin (created_at);

CREATE OR REPLACE FUNCTION chat_search_blocks_add() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO message_search (room_id, created_at, first_seq, last_seq, body)
    SELECT n.room_id, n.created_at, min(n.seq), max(n.seq), string_agg(n.content, E'\n')
    FROM new_rows n
    WHERE n.kind = 'text'
    GROUP BY n.room_id, n.created_at;
    RETURN NULL;
END
$$;

-- The answer, by idx:
--   idx >= 1: one message of the batch (p_*[idx]), as chat_post_batch's rows;
--   idx = 0:  a sender of the batch: user_id, nickname, avatar_url;
--   idx = -1: a room of the batch: room_id, and in seq the number of its
--             first message in the batch; its other messages follow in
--             batch order (seq + 1, seq + 2, ...).
-- Either every row has idx >= 1 (some message had a cid or a bad session)
-- or none has. time_ms is on every row. A sender deleted meanwhile has no
-- row: its messages have no name, as with chat_post_batch.
CREATE FUNCTION chat_post_batch_compact(p_room_ids bigint[], p_user_ids bigint[], p_kinds text[],
                                        p_contents text[], p_cids text[], p_skey_hashes bytea[])
RETURNS TABLE (idx int, duplicate boolean, invalid boolean, room text, seq bigint, user_id bigint,
               nickname text, avatar_url text, kind text, content text, cid text,
               time_ms bigint, room_id bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan SET work_mem = '32MB' AS $$
#variable_conflict use_column
DECLARE
    n int := coalesce(cardinality(p_user_ids), 0);
    nbad int;
    nrooms int;
    base bigint;
    rids bigint[];
    bases bigint[];
    t_ms bigint := (extract(epoch FROM now()) * 1000)::bigint;
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    IF cardinality(array_remove(p_cids, NULL)) = 0 THEN
        -- Senders without a live session for the skey their socket gave.
        SELECT count(*) INTO nbad
        FROM (SELECT DISTINCT x.u, x.h FROM unnest(p_user_ids, p_skey_hashes) AS x(u, h)) d
        LEFT JOIN LATERAL (SELECT true AS ok FROM sessions ss
                           WHERE ss.skey_hash = d.h AND ss.user_id = d.u
                             AND ss.revoked_at IS NULL AND ss.expires_at > now()
                           LIMIT 1) v ON true
        WHERE v.ok IS NULL;
    END IF;
    IF nbad IS DISTINCT FROM 0 THEN
        -- A cid or a bad session: each message's state decides.
        RETURN QUERY SELECT c.*, NULL::bigint
                     FROM chat_post_batch_checked(p_room_ids, p_user_ids, p_kinds, p_contents,
                                                  p_cids, p_skey_hashes) c;
        RETURN;
    END IF;

    IF p_room_ids[1] = ALL (p_room_ids) THEN
        -- One room: its row is locked by the UPDATE.
        UPDATE rooms SET last_seq = last_seq + n WHERE id = p_room_ids[1]
        RETURNING last_seq - n INTO base;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'chat_post_batch: a room does not exist';
        END IF;
        INSERT INTO messages (room_id, seq, user_id, kind, content, cid)
        SELECT x.r, base + x.i, x.u, x.k, x.body, NULL
        FROM unnest(p_room_ids, p_user_ids, p_kinds, p_contents)
             WITH ORDINALITY AS x(r, u, k, body, i);
        rids := ARRAY[p_room_ids[1]];
        bases := ARRAY[base];
    ELSE
        -- Several rooms: locked in id order (two writers never deadlock),
        -- bumped, then each room's messages numbered from its old last_seq
        -- in batch order by the INSERT.
        PERFORM 1 FROM rooms r WHERE r.id = ANY (p_room_ids) ORDER BY r.id FOR UPDATE;
        GET DIAGNOSTICS nrooms = ROW_COUNT;
        IF nrooms <> (SELECT count(DISTINCT x) FROM unnest(p_room_ids) x)
           OR array_position(p_room_ids, NULL) IS NOT NULL THEN
            RAISE EXCEPTION 'chat_post_batch: a room does not exist';
        END IF;
        WITH counts AS (
            SELECT x.r, count(*) AS k FROM unnest(p_room_ids) AS x(r) GROUP BY x.r
        ), bumped AS (
            UPDATE rooms SET last_seq = rooms.last_seq + counts.k FROM counts
            WHERE rooms.id = counts.r
            RETURNING rooms.id, rooms.last_seq - counts.k AS base
        )
        SELECT array_agg(b.id), array_agg(b.base) INTO rids, bases FROM bumped b;
        INSERT INTO messages (room_id, seq, user_id, kind, content, cid)
        SELECT x.r, bb.base + row_number() OVER (PARTITION BY x.r ORDER BY x.i), x.u, x.k,
               x.body, NULL
        FROM unnest(p_room_ids, p_user_ids, p_kinds, p_contents)
             WITH ORDINALITY AS x(r, u, k, body, i)
        JOIN unnest(rids, bases) AS bb(id, base) ON bb.id = x.r;
    END IF;

    RETURN QUERY
    SELECT -1, false, false, NULL::text, bb.base + 1, NULL::bigint, NULL::text, NULL::text,
           NULL::text, NULL::text, NULL::text, t_ms, bb.id
    FROM unnest(rids, bases) AS bb(id, base);
    RETURN QUERY
    SELECT 0, false, false, NULL::text, NULL::bigint, u.id, u.nickname, u.avatar_url,
           NULL::text, NULL::text, NULL::text, t_ms, NULL::bigint
    FROM users u
    WHERE u.id = ANY (ARRAY(SELECT DISTINCT x FROM unnest(p_user_ids) AS x));
END
$$;
COMMENT ON FUNCTION chat_post_batch_compact(bigint[], bigint[], text[], text[], text[], bytea[]) IS
    'The relay''s batch insert: chat_post_batch, answered per room and per sender '
    'on its fast path (027).';

REVOKE ALL ON FUNCTION chat_post_batch_compact(bigint[], bigint[], text[], text[], text[], bytea[])
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    chat_post_batch_compact(bigint[], bigint[], text[], text[], text[], bytea[]) TO chat_relay;
