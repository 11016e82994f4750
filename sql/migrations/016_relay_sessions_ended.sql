-- 016_relay_sessions_ended.sql -- which of a relay's open sessions ended
-- (revoked, expired or deleted) while it was not listening.
--
-- A relay closes a socket at once when NOTIFY chat_sessions says its
-- session was revoked. A notification sent while the relay's LISTEN
-- connection was down is lost, so when that connection comes back the relay
-- asks about every session it serves and closes those that ended. The
-- function runs as its owner (chat_relay cannot read sessions) and answers
-- only about the ids it is given, which the relay already has (X-WX-Id).

CREATE FUNCTION chat_sessions_ended(p_ids text[]) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT x FROM unnest(p_ids) AS x
    WHERE NOT EXISTS (SELECT 1 FROM sessions s
                      WHERE s.id = x AND s.revoked_at IS NULL AND s.expires_at > now())
$$;
REVOKE ALL ON FUNCTION chat_sessions_ended(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION chat_sessions_ended(text[]) TO chat_relay;
