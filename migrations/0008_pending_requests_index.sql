-- Only pending requests are looked up by group and applicant: a partial
-- index stays small (a request leaves it when decided), so it is cheap to
-- keep and its pages stay in the cache.
DROP INDEX join_requests_by_group;
CREATE INDEX join_requests_pending ON join_requests(group_id, applicant) WHERE status = 'pending';
