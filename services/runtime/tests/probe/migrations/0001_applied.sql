-- Deliberately without a unique key: a duplicate application must be visible.
CREATE TABLE applied (
    school_id  text        NOT NULL,
    applied_at timestamptz NOT NULL
);
