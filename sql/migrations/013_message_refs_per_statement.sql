-- 013_message_refs_per_statement.sql -- referential integrity of messages
-- checked once per statement instead of once per row and key (issue #7,
-- scenario e). Same rules as the foreign keys of 001, same SQLSTATE
-- (23503 foreign_key_violation); what changes is the cost of an insert.
--
-- PostgreSQL checks a foreign key with one query per inserted row and key
-- (an AFTER ROW trigger: messages.room_id -> rooms, messages.user_id ->
-- users). In the relay's batch insert of several hundred rows that was 27 %
-- of its backend's CPU. The checks below do the same work with one
-- set-based query per statement:
--  * INSERT or UPDATE on messages: every room_id must be in rooms and every
--    non-NULL user_id in users; the referenced rows are locked FOR KEY
--    SHARE, as the foreign key does, so a concurrent DELETE of a room or a
--    user waits for the inserting transaction and then sees its rows.
--  * DELETE or UPDATE (of the id) on rooms / users: refused while a message
--    still references an old id (the foreign keys were NO ACTION).
--  * TRUNCATE of rooms / users: refused while messages has rows that would
--    be left dangling (TRUNCATE ... CASCADE reached messages through the
--    foreign key before).
-- Like the built-in checks these run as the table owner (SECURITY DEFINER)
-- and assume READ COMMITTED (every statement of the check sees what has
-- committed when it runs); the relay and psql use READ COMMITTED.

DO $$
DECLARE
    c text;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'messages'::regclass AND contype = 'f'
               AND confrelid IN ('rooms'::regclass, 'users'::regclass) LOOP
        EXECUTE format('ALTER TABLE messages DROP CONSTRAINT %I', c);
    END LOOP;
END
$$;

-- new_rows: the statement's inserted or updated messages.
CREATE FUNCTION chat_messages_check_refs() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    want int;
    got int;
BEGIN
    SELECT count(DISTINCT n.room_id) INTO want FROM new_rows n;
    IF want > 0 THEN
        PERFORM 1 FROM rooms r WHERE r.id IN (SELECT n.room_id FROM new_rows n) FOR KEY SHARE OF r;
        GET DIAGNOSTICS got = ROW_COUNT;
        IF got <> want THEN
            RAISE EXCEPTION 'insert or update on table "messages" violates foreign key: room_id not in rooms'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    SELECT count(DISTINCT n.user_id) INTO want FROM new_rows n;
    IF want > 0 THEN
        PERFORM 1 FROM users u WHERE u.id IN (SELECT n.user_id FROM new_rows n) FOR KEY SHARE OF u;
        GET DIAGNOSTICS got = ROW_COUNT;
        IF got <> want THEN
            RAISE EXCEPTION 'insert or update on table "messages" violates foreign key: user_id not in users'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_check_refs_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION chat_messages_check_refs();
CREATE TRIGGER messages_check_refs_update AFTER UPDATE ON messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION chat_messages_check_refs();

-- rooms and users: no message may keep an id that is gone.
CREATE FUNCTION chat_rooms_check_refs() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- a row trigger, only when the id changed (WHEN below)
        IF EXISTS (SELECT 1 FROM messages m WHERE m.room_id = OLD.id) THEN
            RAISE EXCEPTION 'update on table "rooms" violates foreign key of table "messages"'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM messages m WHERE m.room_id IN (SELECT o.id FROM old_rows o)) THEN
        RAISE EXCEPTION 'delete on table "rooms" violates foreign key of table "messages"'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER rooms_check_refs_delete AFTER DELETE ON rooms
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION chat_rooms_check_refs();
-- (no transition table: the counter updates of every batch pay nothing)
CREATE TRIGGER rooms_check_refs_update AFTER UPDATE OF id ON rooms
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION chat_rooms_check_refs();

CREATE FUNCTION chat_users_check_refs() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- a row trigger, only when the id changed (WHEN below)
        IF EXISTS (SELECT 1 FROM messages m WHERE m.user_id = OLD.id) THEN
            RAISE EXCEPTION 'update on table "users" violates foreign key of table "messages"'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM messages m WHERE m.user_id IN (SELECT o.id FROM old_rows o)) THEN
        RAISE EXCEPTION 'delete on table "users" violates foreign key of table "messages"'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_check_refs_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION chat_users_check_refs();
-- (no transition table: a login's update of users pays nothing)
CREATE TRIGGER users_check_refs_update AFTER UPDATE OF id ON users
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION chat_users_check_refs();

-- TRUNCATE rooms/users would leave messages dangling.
CREATE FUNCTION chat_refs_check_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM messages m
               WHERE (TG_TABLE_NAME = 'rooms' OR m.user_id IS NOT NULL)) THEN
        RAISE EXCEPTION 'cannot truncate table "%": table "messages" references it', TG_TABLE_NAME
            USING ERRCODE = 'feature_not_supported';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER rooms_check_refs_truncate BEFORE TRUNCATE ON rooms
    FOR EACH STATEMENT EXECUTE FUNCTION chat_refs_check_truncate();
CREATE TRIGGER users_check_refs_truncate BEFORE TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION chat_refs_check_truncate();

REVOKE ALL ON FUNCTION chat_messages_check_refs(), chat_rooms_check_refs(), chat_users_check_refs(),
    chat_refs_check_truncate() FROM PUBLIC;

-- The batch's sorts (cid dedup, numbering) stay in memory for the largest
-- batch the relay sends (4,000 messages).
ALTER FUNCTION chat_post_batch(bigint[], bigint[], text[], text[], text[], bytea[])
    SET work_mem = '32MB';
