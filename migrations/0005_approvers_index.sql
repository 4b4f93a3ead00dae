-- The owner and admins of each group, who decide its join requests: a partial
-- index, so that members joining and leaving never write to it.
DROP INDEX members_by_role;
CREATE INDEX members_approvers ON members(group_id, user_id) WHERE role IN ('Owner', 'Admin');
