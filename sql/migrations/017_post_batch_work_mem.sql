-- 017_post_batch_work_mem.sql -- chat_post_batch keeps work_mem = 32MB.
--
-- 013 gave the function that setting so the sorts of the largest batch the
-- relay sends (4,000 messages) stay in memory. 015 replaced the function with
-- CREATE OR REPLACE and its own SET clauses, which replace the whole list,
-- so the setting was lost. Same setting again, beside 015's.

ALTER FUNCTION chat_post_batch(bigint[], bigint[], text[], text[], text[], bytea[])
    SET work_mem = '32MB';
