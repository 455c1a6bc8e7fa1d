-- Identity and access: users, groups and their permissions, tokens (only their SHA-256 digests
-- are stored, never the secret), and an audit trail. Built-in groups come with the migration.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    password_changed_at REAL NOT NULL
);

CREATE TABLE groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    builtin INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);

CREATE TABLE group_permissions (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (group_id, permission)
);

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);

CREATE INDEX group_members_user ON group_members (user_id);

-- kind is 'login' (POST /api/v1/login, expires) or 'personal' (fleetwatch user token, named).
CREATE TABLE user_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL
);

CREATE INDEX user_tokens_user ON user_tokens (user_id);

CREATE TABLE system_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    system_id INTEGER NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (system_id, name)
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    address TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_at ON audit_log (at);

INSERT INTO groups (name, builtin, created_at) VALUES
    ('admin', 1, CAST(strftime('%s', 'now') AS REAL)), ('readonly', 1, CAST(strftime('%s', 'now') AS REAL)), ('status_update', 1, CAST(strftime('%s', 'now') AS REAL));

INSERT INTO group_permissions (group_id, permission)
SELECT g.id, p.permission FROM groups g JOIN (
    SELECT 'admin' AS grp, 'view-statistics' AS permission
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
