-- 021_partition_maintenance.sql -- create message partitions ahead, absorb
-- rows that landed in messages_default, and apply a retention (issue #6).
--
-- Partitions are UTC months named messages_YYYYMM. A row whose month has no
-- partition goes to messages_default; creating that month's partition later
-- moves those rows into it (PostgreSQL refuses to create a partition whose
-- range has rows in the default partition). Callers: sql/migrate.sh (after
-- every run) and tools/maintenance.sh (periodically).

-- Archived (detached) partitions are moved here; nobody but the owner reads it.
CREATE SCHEMA IF NOT EXISTS chat_archive;
REVOKE ALL ON SCHEMA chat_archive FROM PUBLIC;

-- Locks for changing the partitions of messages, until commit, in the order
-- writers take them: first the tables messages references (a relay holds
-- its room's row, then inserts; attaching or dropping a partition needs
-- SHARE ROW EXCLUSIVE on them for the foreign keys), then messages (which
-- serialises concurrent callers), then the default partition, so no row of
-- a month lands there between a move and the attach. Any other order can
-- deadlock with a relay inserting into the default partition.
CREATE FUNCTION chat_lock_for_partitioning() RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT DISTINCT confrelid::regclass FROM pg_constraint
             WHERE conrelid = 'messages'::regclass AND contype = 'f' ORDER BY 1 LOOP
        EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', t);
    END LOOP;
    LOCK TABLE ONLY messages IN SHARE UPDATE EXCLUSIVE MODE;
    FOR t IN SELECT c.oid FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'messages'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' LOOP
        EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', t);
    END LOOP;
END
$$;

-- The partition for the UTC month containing p_at; rows of that month in the
-- default partition are moved into it. Returns true when it was created,
-- false when a partition of that name already existed.
CREATE FUNCTION chat_create_partition(p_at timestamptz) RETURNS boolean
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    m0 timestamp := date_trunc('month', p_at AT TIME ZONE 'UTC');
    lo timestamptz := m0 AT TIME ZONE 'UTC';
    hi timestamptz := (m0 + interval '1 month') AT TIME ZONE 'UTC';
    part text := 'messages_' || to_char(m0, 'YYYYMM');
    default_part regclass;
    moved bigint := 0;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    PERFORM chat_lock_for_partitioning();
    IF to_regclass(part) IS NOT NULL THEN   -- created meanwhile
        RETURN false;
    END IF;
    SELECT c.oid INTO default_part
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'messages'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';

    EXECUTE format('CREATE TABLE %I (LIKE messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    IF default_part IS NOT NULL THEN
        EXECUTE format('WITH m AS (DELETE FROM %s WHERE created_at >= $1 AND created_at < $2 RETURNING *) '
                       'INSERT INTO %I SELECT * FROM m', default_part, part) USING lo, hi;
        GET DIAGNOSTICS moved = ROW_COUNT;
    END IF;
    -- A CHECK matching the bound lets ATTACH skip scanning the new table.
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (created_at >= %L AND created_at < %L)',
                   part, part || '_range', lo, hi);
    EXECUTE format('ALTER TABLE messages ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part, part || '_range');
    IF moved > 0 THEN
        RAISE NOTICE 'partition %: moved % row(s) from the default partition', part, moved;
    END IF;
    RETURN true;
END
$$;

-- Partitions from this month to months_ahead months ahead, plus one for
-- every month that has rows in the default partition (which empties it).
-- Returns how many were created. (Replaces the version of 001, same call.)
CREATE OR REPLACE FUNCTION chat_create_partitions(months_ahead int DEFAULT 3) RETURNS int
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    first_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
    m timestamp;
    created int := 0;
BEGIN
    IF months_ahead < 0 THEN
        RAISE EXCEPTION 'chat_create_partitions: months_ahead must be >= 0, not %', months_ahead;
    END IF;
    FOR i IN 0..months_ahead LOOP
        IF chat_create_partition((first_month + make_interval(months => i)) AT TIME ZONE 'UTC') THEN
            created := created + 1;
        END IF;
    END LOOP;
    FOR m IN SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC')
             FROM messages_default ORDER BY 1 LOOP
        IF chat_create_partition(m AT TIME ZONE 'UTC') THEN
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END
$$;

-- Partitions for every UTC month from p_from to p_to (both included), e.g.
-- before importing history. Returns how many were created.
CREATE FUNCTION chat_create_partitions_between(p_from timestamptz, p_to timestamptz) RETURNS int
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    m timestamp := date_trunc('month', p_from AT TIME ZONE 'UTC');
    created int := 0;
BEGIN
    WHILE m <= p_to AT TIME ZONE 'UTC' LOOP
        IF chat_create_partition(m AT TIME ZONE 'UTC') THEN
            created := created + 1;
        END IF;
        m := m + interval '1 month';
    END LOOP;
    RETURN created;
END
$$;

-- Retention: every partition whose whole range is older than now() - retention
-- is dropped (archive = false) or detached and moved to schema chat_archive
-- (archive = true), where it can be dumped (pg_dump -t) and dropped later.
-- Rows of such months still in the default partition go first to their own
-- partition, so they share its fate; message_cids rows older than the cutoff
-- whose message is gone are deleted. A month is kept until all of it is
-- older than the retention. Returns how many partitions were removed.
CREATE FUNCTION chat_drop_partitions(retention interval, archive boolean DEFAULT false) RETURNS int
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
    FOR p IN SELECT partition FROM chat_partitions
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
        removed := removed + 1;
    END LOOP;
    DELETE FROM message_cids c
    WHERE c.created_at < cutoff
      AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.room_id = c.room_id AND m.seq = c.seq);
    RETURN removed;
END
$$;

-- Only the owner (migrations, tools/maintenance.sh) runs these.
REVOKE ALL ON FUNCTION chat_lock_for_partitioning() FROM PUBLIC;
REVOKE ALL ON FUNCTION chat_create_partition(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION chat_create_partitions(int) FROM PUBLIC;
REVOKE ALL ON FUNCTION chat_create_partitions_between(timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION chat_drop_partitions(interval, boolean) FROM PUBLIC;
