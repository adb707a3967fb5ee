-- Create a batch record, or find the one with the same body (idempotent by batch id).
-- KEYS[1] taskgate:batch:{batch_id} (hash)
-- KEYS[2] the index of batches (zset batch id -> created ms)
-- KEYS[3] the set of active (not yet complete) batches
-- ARGV[1] batch id
-- ARGV[2] digest of the body (task_name, items, callback, labels)
-- ARGV[3] meta JSON
-- ARGV[4] number of items
-- ARGV[5] task_name
-- ARGV[6] '1' when the batch has a callback URL, else '0'
-- ARGV[7] now in ms
-- ARGV[8] ttl in ms
-- Every item starts PENDING (n:PENDING = size); the completion watcher moves the counts.
-- returns 'created' | 'exists' (same digest) | 'conflict' (another body under this id)
local found = redis.call('HGET', KEYS[1], 'hash')
if found then
  if found == ARGV[2] then
    return 'exists'
  end
  return 'conflict'
end
local now = tonumber(ARGV[7])
redis.call('HSET', KEYS[1], 'hash', ARGV[2], 'meta', ARGV[3], 'size', ARGV[4], 'task_name', ARGV[5],
  'has_callback', ARGV[6], 'created_at_ms', ARGV[7], 'items_created', 0, 'ended', 0, 'n:PENDING', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[8]))
redis.call('SADD', KEYS[3], ARGV[1])
return 'created'
