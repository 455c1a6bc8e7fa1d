-- Identity and access: users, groups and their permissions, tokens (only their SHA-256 digests
-- are stored, never the secret), and an audit trail. Built-in groups come with the migration.

CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at double precision NOT NULL,
    password_changed_at double precision NOT NULL
);

CREATE TABLE groups (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    builtin integer NOT NULL DEFAULT 0,
    created_at double precision NOT NULL
);

CREATE TABLE group_permissions (
    group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    permission text NOT NULL,
    PRIMARY KEY (group_id, permission)
);

CREATE TABLE group_members (
    group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);

CREATE INDEX group_members_user ON group_members (user_id);

-- kind is 'login' (POST /api/v1/login, expires) or 'personal' (fleetwatch user token, named).
CREATE TABLE user_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest text NOT NULL UNIQUE,
    prefix text NOT NULL,
    kind text NOT NULL,
    name text NOT NULL,
    created_at double precision NOT NULL,
    expires_at double precision
);

CREATE INDEX user_tokens_user ON user_tokens (user_id);

CREATE TABLE system_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id bigint NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    name text NOT NULL,
    digest text NOT NULL UNIQUE,
    prefix text NOT NULL,
    created_at double precision NOT NULL,
    UNIQUE (system_id, name)
);

CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at double precision NOT NULL,
    actor text NOT NULL,
    address text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    detail text NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_at ON audit_log (at);

INSERT INTO groups (name, builtin, created_at) VALUES
    ('admin', 1, extract(epoch FROM now())::double precision), ('readonly', 1, extract(epoch FROM now())::double precision), ('status_update', 1, extract(epoch FROM now())::double precision);

INSERT INTO group_permissions (group_id, permission)
SELECT g.id, p.permission FROM groups g JOIN (
    SELECT 'admin'::text AS grp, 'view-statistics'::text AS permission
    UNION ALL SELECT 'admin', 'api-command'
    UNION ALL SELECT 'admin', 'host-view-all'
    UNION ALL SELECT 'admin', 'host-edit-all'
    UNION ALL SELECT 'admin', 'service-view-all'
    UNION ALL SELECT 'admin', 'service-edit-all'
    UNION ALL SELECT 'admin', 'manage-users'
    UNION ALL SELECT 'admin', 'manage-systems'
    UNION ALL SELECT 'admin', 'view-events'
    UNION ALL SELECT 'admin', 'clear-events'
    UNION ALL SELECT 'readonly', 'view-statistics'
    UNION ALL SELECT 'readonly', 'host-view-all'
    UNION ALL SELECT 'readonly', 'service-view-all'
    UNION ALL SELECT 'readonly', 'view-events'
    UNION ALL SELECT 'status_update', 'api-command'
    UNION ALL SELECT 'status_update', 'service-view-all'
    UNION ALL SELECT 'status_update', 'service-edit-all'
    UNION ALL SELECT 'status_update', 'host-view-all'
) p ON p.grp = g.name;
