-- Custom fields (Tencent AppDefinedData / AppMemberDefinedData), a JSON object per row.
ALTER TABLE groups ADD COLUMN app_data TEXT NOT NULL DEFAULT '{}';
ALTER TABLE members ADD COLUMN app_data TEXT NOT NULL DEFAULT '{}';
