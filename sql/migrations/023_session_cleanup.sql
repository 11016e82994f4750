-- 023_session_cleanup.sql -- delete sessions that expired or were revoked
-- more than a grace period ago (issue #6). tools/maintenance.sh calls it.
--
-- Deleting such a session changes nothing for its holder (an expired or
-- revoked session is already refused); the grace period only keeps recent
-- ones around for investigation ("who was logged in yesterday?").

CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Deletes sessions with expires_at or revoked_at before now() - grace;
-- returns how many.
CREATE FUNCTION chat_cleanup_sessions(grace interval DEFAULT '1 day') RETURNS bigint
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    cutoff timestamptz := now() - grace;
    deleted bigint;
BEGIN
    IF grace < interval '0' THEN
        RAISE EXCEPTION 'chat_cleanup_sessions: grace must not be negative, not %', grace;
    END IF;
    DELETE FROM sessions WHERE expires_at < cutoff OR revoked_at < cutoff;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$$;
REVOKE ALL ON FUNCTION chat_cleanup_sessions(interval) FROM PUBLIC;
