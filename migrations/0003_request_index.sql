-- Join requests of a group in id order (the approvals inbox).
CREATE INDEX join_requests_by_group_id ON join_requests(group_id, id);
