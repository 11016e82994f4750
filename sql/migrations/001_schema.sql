-- 001_schema.sql -- users, sessions, rooms, messages, and the roles that use them.
--
-- Applied by sql/migrate.sh inside one transaction; never edit a migration
-- that has shipped: add a new numbered file instead.

-- Roles (cluster-wide, so created only when missing). Passwords are set by
-- the operator (ALTER ROLE ... PASSWORD), never here.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'chat_login') THEN
        CREATE ROLE chat_login LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'chat_relay') THEN
        CREATE ROLE chat_relay LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'chat_dba') THEN
        CREATE ROLE chat_dba LOGIN;
    END IF;
END
$$;

REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO chat_login, chat_relay, chat_dba;

CREATE TABLE users (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    openid      text NOT NULL UNIQUE CHECK (length(openid) BETWEEN 1 AND 128),
    unionid     text CHECK (length(unionid) <= 128),
    nickname    text NOT NULL DEFAULT '' CHECK (length(nickname) <= 256),
    avatar_url  text NOT NULL DEFAULT '' CHECK (length(avatar_url) <= 2048),
    gender      smallint NOT NULL DEFAULT 0,
    city        text NOT NULL DEFAULT '' CHECK (length(city) <= 256),
    province    text NOT NULL DEFAULT '' CHECK (length(province) <= 256),
    country     text NOT NULL DEFAULT '' CHECK (length(country) <= 256),
    language    text NOT NULL DEFAULT '' CHECK (length(language) <= 64),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE users IS 'One row per WeChat user of this app, keyed by openid.';

-- A session is found by the hash of its skey; the skey itself is never stored.
CREATE TABLE sessions (
    id              text PRIMARY KEY,            -- public, random (X-WX-Id)
    skey_hash       bytea NOT NULL UNIQUE,       -- sha256(skey)
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    wx_session_key  text NOT NULL,               -- WeChat session_key: secret
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- last_seq is the room's gap-free message counter: writers take the row lock
-- with UPDATE ... SET last_seq = last_seq + n in the transaction that inserts
-- the messages, so numbers are dense and in commit order.
CREATE TABLE rooms (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_-]{1,64}$'),
    last_seq    bigint NOT NULL DEFAULT 0,
    epoch       text NOT NULL DEFAULT md5(random()::text || clock_timestamp()::text),
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO rooms (name) VALUES ('lobby');

CREATE TABLE messages (
    room_id     bigint NOT NULL REFERENCES rooms (id),
    seq         bigint NOT NULL,                 -- the room's sequence number (wire "id")
    user_id     bigint REFERENCES users (id),    -- NULL for an announcement
    kind        text NOT NULL CHECK (kind IN ('text', 'image')),
    content     text NOT NULL,                   -- the text, or the image URL
    cid         text CHECK (length(cid) <= 64),  -- client's id for deduplication
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, seq, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE messages_default PARTITION OF messages DEFAULT;

-- Deduplication of client ids: one row per (sender, cid), unpartitioned so
-- the uniqueness holds across all of history.
CREATE TABLE message_cids (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cid         text NOT NULL CHECK (length(cid) BETWEEN 1 AND 64),
    room_id     bigint NOT NULL REFERENCES rooms (id),
    seq         bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, cid)
);

-- Monthly partitions (UTC months) from this month to `months_ahead` ahead.
-- Returns how many were created.
CREATE FUNCTION chat_create_partitions(months_ahead int DEFAULT 3) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    first_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
    m timestamp;
    created int := 0;
    part text;
BEGIN
    FOR i IN 0..months_ahead LOOP
        m := first_month + make_interval(months => i);
        part := format('messages_%s', to_char(m, 'YYYYMM'));
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF messages FOR VALUES FROM (%L) TO (%L)',
                           part, m AT TIME ZONE 'UTC', (m + interval '1 month') AT TIME ZONE 'UTC');
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END
$$;
SELECT chat_create_partitions(3);

-- A row inserted without seq (an announcement typed into psql) gets the
-- room's next number, under the same row lock the relay takes.
CREATE FUNCTION chat_assign_seq() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS NULL THEN
        UPDATE rooms SET last_seq = last_seq + 1 WHERE id = NEW.room_id
        RETURNING last_seq INTO NEW.seq;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER messages_assign_seq BEFORE INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION chat_assign_seq();

-- Every committed insert is announced on channel chat_messages, one
-- notification per room and statement: {"room_id":1,"room":"lobby","from":5,"to":9}.
-- Relays fetch the rows they did not write themselves.
CREATE FUNCTION chat_notify_messages() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT n.room_id, rooms.name, min(n.seq) AS first, max(n.seq) AS last
             FROM new_rows n JOIN rooms ON rooms.id = n.room_id
             GROUP BY n.room_id, rooms.name
    LOOP
        PERFORM pg_notify('chat_messages', json_build_object(
            'room_id', r.room_id, 'room', r.name, 'from', r.first, 'to', r.last)::text);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_notify AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION chat_notify_messages();

-- Revoking a session is announced so relays close its sockets at once.
CREATE FUNCTION chat_notify_session_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL THEN
        PERFORM pg_notify('chat_sessions', json_build_object('revoked', NEW.id)::text);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER sessions_notify_revoked AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW EXECUTE FUNCTION chat_notify_session_revoked();

-- The relay checks one session by skey hash without any access to the
-- sessions table: it cannot list sessions or read their hashes.
CREATE FUNCTION chat_session_lookup(p_skey_hash bytea)
RETURNS TABLE (session_id text, user_id bigint, nickname text, avatar_url text,
               expires_at timestamptz, revoked boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.id, u.id, u.nickname, u.avatar_url, s.expires_at, s.revoked_at IS NOT NULL
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.skey_hash = p_skey_hash
$$;
REVOKE ALL ON FUNCTION chat_session_lookup(bytea) FROM PUBLIC;

-- Grants: each program gets what it uses and nothing more.
GRANT SELECT, INSERT, UPDATE ON users, sessions TO chat_login;
GRANT EXECUTE ON FUNCTION chat_session_lookup(bytea) TO chat_relay;
GRANT SELECT (id, nickname, avatar_url) ON users TO chat_relay;
GRANT SELECT, INSERT ON rooms TO chat_relay;
GRANT UPDATE (last_seq) ON rooms TO chat_relay;
GRANT SELECT, INSERT ON messages, message_cids TO chat_relay;
