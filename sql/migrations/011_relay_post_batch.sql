-- 011_relay_post_batch.sql -- one transaction for every message a relay
-- received in a loop turn, across rooms, with set-based statements (no
-- per-message statement: chat_post_messages of 010 spends about a
-- millisecond per message on its per-row session lookup and cid insert,
-- which capped a relay near 1,000 messages per second).

-- Post n messages (p_room_ids[i] .. p_skey_hashes[i], i = 1..n) in the
-- caller's transaction (one statement: its own transaction).
--  * Locks the rooms involved in id order (two relays never deadlock).
--  * A message whose session (by skey hash, for that user) is no longer
--    valid is refused: invalid = true, nothing stored.
--  * A (user_id, cid) pair already stored, or given earlier in the same
--    batch, is a duplicate: duplicate = true with the stored message (room,
--    seq, content...); nothing stored.
--  * Every other message is numbered densely per room from last_seq + 1 in
--    input order and inserted with one INSERT (one NOTIFY per room).
-- Returns one row per input index, in order. For fresh messages content is
-- NULL (the caller has it) and time_ms is the transaction's now(), which is
-- the rows' created_at. A cid inserted concurrently by another transaction
-- for the same user (two relays, same cid, same instant) raises an error:
-- the batch is rolled back, its senders get ERR_UNAVAILABLE and their
-- resend is answered as a duplicate.
CREATE FUNCTION chat_post_batch(p_room_ids bigint[], p_user_ids bigint[], p_kinds text[],
                                p_contents text[], p_cids text[], p_skey_hashes bytea[])
RETURNS TABLE (idx int, duplicate boolean, invalid boolean, room text, seq bigint, user_id bigint,
               nickname text, avatar_url text, kind text, content text, cid text,
               time_ms bigint)
LANGUAGE plpgsql AS $$
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

    -- One session lookup per distinct (hash, user), not per message.
    SELECT array_agg(coalesce(s.ok, false) ORDER BY t.i) INTO valid
    FROM unnest(p_skey_hashes, p_user_ids) WITH ORDINALITY AS t(h, u, i)
    LEFT JOIN (SELECT d.h, d.u,
                      EXISTS (SELECT 1 FROM chat_session_lookup(d.h) sl
                              WHERE NOT sl.revoked AND sl.expires_at > now()
                                AND sl.user_id = d.u) AS ok
               FROM (SELECT DISTINCT h, u FROM unnest(p_skey_hashes, p_user_ids) AS q(h, u)) d) s
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
