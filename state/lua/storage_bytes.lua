-- Record (or forget) how many bytes a workflow's folder holds, keeping the total in step.
-- KEYS[1] taskgate:storage:bytes (hash workflow_id -> bytes)
-- KEYS[2] taskgate:storage:total_bytes (string)
-- KEYS[3] workflow_state:{workflow_id} (hash; its storage_bytes field is set when it exists)
-- KEYS[4] taskgate:storage:sweep (zset; a measured workflow joins it if missing, scored ARGV[3], and leaves it
--         when forgotten)
-- ARGV[1] workflow_id
-- ARGV[2] bytes now held, or -1 to forget the workflow (its folder was removed)
-- ARGV[3] optional: now ms; with -1 when the folder was removed (noted in the record while it exists), else the
--         score of a workflow that joins the sweep
-- returns the new total
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local new = tonumber(ARGV[2])
if new < 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
  new = 0
else
  redis.call('HSET', KEYS[1], ARGV[1], new)
  if ARGV[3] then
    redis.call('ZADD', KEYS[4], 'NX', ARGV[3], ARGV[1])
  end
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  -- HSET on an existing hash keeps its TTL; a record that expired is never brought back
  redis.call('HSET', KEYS[3], 'storage_bytes', new)
  if ARGV[3] and tonumber(ARGV[2]) < 0 then
    redis.call('HSET', KEYS[3], 'files_removed_ms', ARGV[3])
  end
end
return redis.call('INCRBY', KEYS[2], new - old)
