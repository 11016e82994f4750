-- 012_relay_post_lean.sql -- a cheaper insert path for chat_post_batch
-- (issue #7, scenario e). Same signature, same results, same guarantees as
-- 011; measured on 640 messages in 10 rooms from 100 senders:
--  * the session check no longer calls chat_session_lookup once per
--    distinct sender (a SECURITY DEFINER SQL function, re-planned on every
--    call: about 0.2 ms each, 20-25 ms per batch of 100 senders); the
--    function is SECURITY DEFINER itself and joins sessions once. It still
--    reveals nothing but "valid or not" for hashes the caller already has.
--  * the row trigger that numbers announcements (chat_assign_seq) fires
--    only for rows without a seq (WHEN clause: no PL/pgSQL call per row of
--    a batch, which always brings its own numbers).

DROP TRIGGER messages_assign_seq ON messages;
CREATE TRIGGER messages_assign_seq BEFORE INSERT ON messages
    FOR EACH ROW WHEN (NEW.seq IS NULL) EXECUTE FUNCTION chat_assign_seq();

CREATE OR REPLACE FUNCTION chat_post_batch(p_room_ids bigint[], p_user_ids bigint[], p_kinds text[],
                                p_contents text[], p_cids text[], p_skey_hashes bytea[])
RETURNS TABLE (idx int, duplicate boolean, invalid boolean, room text, seq bigint, user_id bigint,
               nickname text, avatar_url text, kind text, content text, cid text,
               time_ms bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    n int := coalesce(cardinality(p_user_ids), 0);
    valid boolean[];
    states text[];
    seqs bigint[];
    rids bigint[];
    nrooms int;
    ncids int;
    stored int;
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM rooms r WHERE r.id = ANY (p_room_ids) ORDER BY r.id FOR UPDATE;
    GET DIAGNOSTICS nrooms = ROW_COUNT;
    IF nrooms <> (SELECT count(DISTINCT x) FROM unnest(p_room_ids) x) THEN
        RAISE EXCEPTION 'chat_post_batch: a room does not exist';
    END IF;

    -- One index probe per distinct hash, in one statement (the function
    -- runs as its owner, so it reads sessions directly; chat_session_lookup
    -- is a SQL function that is planned again on every call, about 0.2 ms).
    SELECT array_agg(s.h IS NOT NULL ORDER BY t.i) INTO valid
    FROM unnest(p_skey_hashes, p_user_ids) WITH ORDINALITY AS t(h, u, i)
    LEFT JOIN (SELECT ss.skey_hash AS h, ss.user_id AS u
               FROM sessions ss JOIN users uu ON uu.id = ss.user_id
               WHERE ss.skey_hash = ANY (p_skey_hashes) AND ss.revoked_at IS NULL
                 AND ss.expires_at > now()) s
        ON s.h = t.h AND s.u = t.u;

    -- State of each message: bad, old (cid stored before), again (cid
    -- earlier in this batch) or fresh; then the numbers.
    WITH t AS (
        SELECT x.i::int AS i, x.r, x.u, x.c, valid[x.i] AS ok
        FROM unnest(p_room_ids, p_user_ids, p_cids) WITH ORDINALITY AS x(r, u, c, i)
    ), f AS (
        SELECT t.*, min(t.i) FILTER (WHERE t.ok) OVER (PARTITION BY t.u, t.c) AS first_i
        FROM t
    ), o AS (
        SELECT f.*, mc.room_id AS old_room, mc.seq AS old_seq
        FROM f LEFT JOIN message_cids mc
            ON f.ok AND f.c IS NOT NULL AND mc.user_id = f.u AND mc.cid = f.c
    ), st AS (
        SELECT o.*, CASE WHEN NOT o.ok THEN 'bad'
                         WHEN o.old_seq IS NOT NULL THEN 'old'
                         WHEN o.c IS NOT NULL AND o.first_i <> o.i THEN 'again'
                         ELSE 'fresh' END AS state
        FROM o
    ), counts AS (
        SELECT st.r, count(*) AS k FROM st WHERE st.state = 'fresh' GROUP BY st.r
    ), bumped AS (
        UPDATE rooms SET last_seq = rooms.last_seq + counts.k FROM counts
        WHERE rooms.id = counts.r
        RETURNING rooms.id, rooms.last_seq - counts.k AS base
    ), numbered AS (
        SELECT st.*, CASE st.state
                WHEN 'fresh' THEN b.base + row_number() OVER (PARTITION BY st.r, st.state ORDER BY st.i)
                WHEN 'old' THEN st.old_seq END AS s
        FROM st LEFT JOIN bumped b ON b.id = st.r
    )
    SELECT array_agg(nb.state ORDER BY nb.i),
           array_agg(CASE WHEN nb.state = 'again' THEN fr.s ELSE nb.s END ORDER BY nb.i),
           array_agg(CASE WHEN nb.state = 'old' THEN nb.old_room ELSE nb.r END ORDER BY nb.i)
    INTO states, seqs, rids
    FROM numbered nb LEFT JOIN numbered fr ON nb.state = 'again' AND fr.i = nb.first_i;

    SELECT count(*) INTO ncids FROM generate_subscripts(p_user_ids, 1) AS i
    WHERE states[i] = 'fresh' AND p_cids[i] IS NOT NULL;
    IF ncids > 0 THEN
        INSERT INTO message_cids (user_id, cid, room_id, seq)
        SELECT p_user_ids[i], p_cids[i], p_room_ids[i], seqs[i]
        FROM generate_subscripts(p_user_ids, 1) AS i
        WHERE states[i] = 'fresh' AND p_cids[i] IS NOT NULL
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS stored = ROW_COUNT;
        IF stored <> ncids THEN
            RAISE EXCEPTION 'chat_post_batch: a cid was stored concurrently; retry';
        END IF;
    END IF;

    INSERT INTO messages (room_id, seq, user_id, kind, content, cid)
    SELECT p_room_ids[i], seqs[i], p_user_ids[i], p_kinds[i], p_contents[i], p_cids[i]
    FROM generate_subscripts(p_user_ids, 1) AS i
    WHERE states[i] = 'fresh'
    ORDER BY p_room_ids[i], seqs[i];

    -- Fresh rows come back without content (the caller has it); duplicates
    -- with the stored message.
    RETURN QUERY
    SELECT i, states[i] IN ('old', 'again'), states[i] = 'bad', rm.name,
           CASE WHEN states[i] = 'fresh' THEN seqs[i] ELSE m.seq END,
           CASE WHEN states[i] = 'bad' THEN NULL ELSE p_user_ids[i] END,
           u.nickname, u.avatar_url,
           CASE WHEN states[i] = 'fresh' THEN p_kinds[i] ELSE m.kind END,
           CASE WHEN states[i] = 'fresh' THEN NULL ELSE m.content END,
           CASE WHEN states[i] = 'fresh' THEN p_cids[i] ELSE m.cid END,
           CASE WHEN states[i] = 'fresh' THEN (extract(epoch FROM now()) * 1000)::bigint
                ELSE (extract(epoch FROM m.created_at) * 1000)::bigint END
    FROM generate_subscripts(p_user_ids, 1) AS i
    LEFT JOIN users u ON u.id = p_user_ids[i] AND states[i] <> 'bad'
    LEFT JOIN rooms rm ON rm.id = rids[i] AND states[i] IN ('old', 'again')
    LEFT JOIN LATERAL (SELECT mm.seq, mm.kind, mm.content, mm.cid, mm.created_at FROM messages mm
                       WHERE states[i] IN ('old', 'again')
                         AND mm.room_id = rids[i] AND mm.seq = seqs[i]) m ON true
    ORDER BY i;
END
$$;

REVOKE ALL ON FUNCTION chat_post_batch(bigint[], bigint[], text[], text[], text[], bytea[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION chat_post_batch(bigint[], bigint[], text[], text[], text[], bytea[]) TO chat_relay;
