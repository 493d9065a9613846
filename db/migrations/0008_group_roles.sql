-- Groups → roles: an owner maps IdP group names to roles; each user's groups are
-- replaced at every sign-in and count for groups_ttl after it (see db.GroupAccessTTL).
CREATE TABLE group_roles (
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    group_name TEXT NOT NULL,
    role       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, group_name)
);

CREATE TABLE user_groups (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_name TEXT NOT NULL,
    PRIMARY KEY (user_id, group_name)
);
CREATE INDEX user_groups_group ON user_groups (group_name);

ALTER TABLE users ADD COLUMN groups_at TIMESTAMP;
