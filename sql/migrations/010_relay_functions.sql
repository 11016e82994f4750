-- 010_relay_functions.sql -- the relay's two round trips: joining a room
-- (create it on first use, read its counter and recent messages in one
-- snapshot) and posting a batch of messages in one transaction.

-- Message rows as the relay sends them: seq, sender, sender's profile, kind,
-- content, cid, created_at in ms since the epoch.

-- Join `p_name` (created when missing). Returns one row per message
-- replayed, newest `p_limit` with seq > lower bound, where the bound is
-- least(p_since, last_seq - p_history) (p_since < 0: last_seq - p_history);
-- always at least one row, whose seq is NULL when there is no message.
CREATE FUNCTION chat_room_join(p_name text, p_since bigint, p_history bigint, p_limit bigint)
RETURNS TABLE (room_id bigint, last_seq bigint, epoch text, seq bigint, user_id bigint,
               nickname text, avatar_url text, kind text, content text, cid text, time_ms bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    IF NOT EXISTS (SELECT 1 FROM rooms r WHERE r.name = p_name) THEN
        INSERT INTO rooms (name) VALUES (p_name) ON CONFLICT (name) DO NOTHING;
    END IF;
    RETURN QUERY
    WITH r AS (SELECT r.id, r.last_seq, r.epoch FROM rooms r WHERE r.name = p_name)
    SELECT r.id, r.last_seq, r.epoch, m.seq, m.user_id, u.nickname, u.avatar_url, m.kind,
           m.content, m.cid, (extract(epoch FROM m.created_at) * 1000)::bigint
    FROM r
    LEFT JOIN LATERAL (
        SELECT mm.* FROM messages mm
        WHERE mm.room_id = r.id
          AND mm.seq > (CASE WHEN p_since < 0 THEN r.last_seq - p_history
                             ELSE least(p_since, r.last_seq - p_history) END)
        ORDER BY mm.seq DESC LIMIT p_limit) m ON true
    LEFT JOIN users u ON u.id = m.user_id
    ORDER BY m.seq;
END
$$;

-- Post a batch of messages to one room in the caller's transaction (one
-- statement: its own transaction). Takes the room's row lock, refuses
-- messages whose session (by skey hash) is no longer valid (invalid = true,
-- nothing stored), skips (user_id, cid) pairs already stored (returning the
-- stored message with duplicate = true), numbers the others densely from
-- last_seq + 1 and inserts them with one statement (one NOTIFY). Returns one
-- row per input index (1-based), in order; seq is NULL when nothing is
-- returned for that index.
CREATE FUNCTION chat_post_messages(p_room_id bigint, p_user_ids bigint[], p_kinds text[],
                                   p_contents text[], p_cids text[], p_skey_hashes bytea[])
RETURNS TABLE (idx int, duplicate boolean, invalid boolean, room text, seq bigint, user_id bigint,
               nickname text, avatar_url text, kind text, content text, cid text,
               time_ms bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n int := coalesce(cardinality(p_user_ids), 0);
    base bigint;
    fresh int := 0;
    seqs bigint[] := '{}';
    room_ids bigint[] := '{}';
    dups boolean[] := '{}';
    bad boolean[] := '{}';
    s bigint;
    rid bigint;
BEGIN
    UPDATE rooms SET last_seq = rooms.last_seq WHERE rooms.id = p_room_id
        RETURNING rooms.last_seq INTO base;
    IF base IS NULL THEN
        RAISE EXCEPTION 'room % does not exist', p_room_id;
    END IF;
    FOR i IN 1..n LOOP
        bad[i] := NOT EXISTS (SELECT 1 FROM chat_session_lookup(p_skey_hashes[i]) sl
                              WHERE NOT sl.revoked AND sl.expires_at > now()
                                AND sl.user_id = p_user_ids[i]);
        dups[i] := false;
        IF bad[i] THEN
            CONTINUE;
        END IF;
        IF p_cids[i] IS NOT NULL THEN
            INSERT INTO message_cids AS c (user_id, cid, room_id, seq)
            VALUES (p_user_ids[i], p_cids[i], p_room_id, base + fresh + 1)
            ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                SELECT c.room_id, c.seq INTO rid, s FROM message_cids c
                WHERE c.user_id = p_user_ids[i] AND c.cid = p_cids[i];
                seqs[i] := s; room_ids[i] := rid; dups[i] := true;
                CONTINUE;
            END IF;
        END IF;
        fresh := fresh + 1;
        seqs[i] := base + fresh; room_ids[i] := p_room_id; dups[i] := false;
    END LOOP;
    IF fresh > 0 THEN
        UPDATE rooms SET last_seq = rooms.last_seq + fresh WHERE rooms.id = p_room_id;
        INSERT INTO messages (room_id, seq, user_id, kind, content, cid)
        SELECT p_room_id, seqs[i], p_user_ids[i], p_kinds[i], p_contents[i], p_cids[i]
        FROM generate_subscripts(p_user_ids, 1) AS i
        WHERE NOT dups[i] AND NOT bad[i]
        ORDER BY i;
    END IF;
    RETURN QUERY
    SELECT i, dups[i], bad[i], rm.name, m.seq, m.user_id, u.nickname, u.avatar_url, m.kind,
           m.content, m.cid, (extract(epoch FROM m.created_at) * 1000)::bigint
    FROM generate_subscripts(p_user_ids, 1) AS i
    LEFT JOIN messages m ON m.room_id = room_ids[i] AND m.seq = seqs[i]
    LEFT JOIN rooms rm ON rm.id = m.room_id
    LEFT JOIN users u ON u.id = m.user_id
    ORDER BY i;
END
$$;

REVOKE ALL ON FUNCTION chat_room_join(text, bigint, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION chat_post_messages(bigint, bigint[], text[], text[], text[], bytea[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION chat_room_join(text, bigint, bigint, bigint) TO chat_relay;
GRANT EXECUTE ON FUNCTION chat_post_messages(bigint, bigint[], text[], text[], text[], bytea[]) TO chat_relay;
