-- 014_message_refs_by_index.sql -- the per-statement reference check of
-- messages (013) looks the referenced rooms and users up by primary key.
--
-- 013 wrote `u.id IN (SELECT n.user_id FROM new_rows n)`: the planner knows
-- nothing of a transition table's size and chose a hash join over a
-- sequential scan of users (and rooms) for every batch, about 1 ms of
-- backend CPU per message once there are thousands of users. With the ids
-- collected into an array first, `id = ANY($ids)` is an index scan of the
-- primary key whatever the tables' sizes. Rules, locks and the error are
-- unchanged.

CREATE OR REPLACE FUNCTION chat_messages_check_refs() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    room_ids bigint[];
    user_ids bigint[];
    got int;
BEGIN
    SELECT array_agg(DISTINCT n.room_id), array_agg(DISTINCT n.user_id) FILTER (WHERE n.user_id IS NOT NULL)
    INTO room_ids, user_ids FROM new_rows n;
    IF room_ids IS NOT NULL THEN
        PERFORM 1 FROM rooms r WHERE r.id = ANY (room_ids) FOR KEY SHARE OF r;
        GET DIAGNOSTICS got = ROW_COUNT;
        IF got <> cardinality(room_ids) THEN
            RAISE EXCEPTION 'insert or update on table "messages" violates foreign key: room_id not in rooms'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    IF user_ids IS NOT NULL THEN
        PERFORM 1 FROM users u WHERE u.id = ANY (user_ids) FOR KEY SHARE OF u;
        GET DIAGNOSTICS got = ROW_COUNT;
        IF got <> cardinality(user_ids) THEN
            RAISE EXCEPTION 'insert or update on table "messages" violates foreign key: user_id not in users'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION chat_messages_check_refs() FROM PUBLIC;
