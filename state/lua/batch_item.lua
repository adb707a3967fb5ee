-- Count one item's move (seen on the live events stream, or read by the reconcile) into its batch.
-- KEYS[1] taskgate:batch:{batch_id} (hash)
-- KEYS[2] the set of active batches
-- KEYS[3] the webhook outbox (zset entry -> ms due)
-- KEYS[4] the live events stream (taskgate:events)
-- ARGV[1] batch id
-- ARGV[2] item index
-- ARGV[3] the item stage's revision
-- ARGV[4] the item stage's status
-- ARGV[5] events kept (the stream's approximate cap)
-- ARGV[6] the moved stage's task_name: only the batch's own task counts (a pipeline item's inner stages do not)
-- A move counts only when its revision is newer than the one counted for the item, and never after an end
-- (a terminal status is final), so an event seen twice, or both seen and reconciled, counts once. The move
-- that ends the last item completes the batch exactly once: completed_at_ms, out of the active set, a
-- 'batch' event on the stream, and the outbox entry of its callback.
-- returns 0 (nothing counted: stale, repeated, or no such batch/item) | 1 (counted) | 2 (counted; complete)
local batch = redis.call('HMGET', KEYS[1], 'size', 'task_name')
local size = batch[1]
if batch[2] and ARGV[6] ~= batch[2] then
  return 0
end
local index = tonumber(ARGV[2])
if (not size) or index >= tonumber(size) then
  return 0
end
local field = 'i:' .. ARGV[2]
local rev, status = 1, 'PENDING'
local current = redis.call('HGET', KEYS[1], field)
if current then
  local sep = string.find(current, ' ', 1, true)
  rev, status = tonumber(string.sub(current, 1, sep - 1)), string.sub(current, sep + 1)
end
local function ended(s)
  return s == 'SUCCESS' or s == 'FAILED' or s == 'CANCELLED'
end
if ended(status) or tonumber(ARGV[3]) <= rev then
  return 0
end
redis.call('HSET', KEYS[1], field, ARGV[3] .. ' ' .. ARGV[4])
redis.call('HINCRBY', KEYS[1], 'n:' .. status, -1)
redis.call('HINCRBY', KEYS[1], 'n:' .. ARGV[4], 1)
if not ended(ARGV[4]) then
  return 1
end
if redis.call('HINCRBY', KEYS[1], 'ended', 1) ~= tonumber(size) then
  return 1
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'completed_at_ms', now)
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', 'type', 'batch', 'batch_id', ARGV[1], 'status', 'COMPLETED')
if redis.call('HGET', KEYS[1], 'has_callback') == '1' then
  redis.call('ZADD', KEYS[3], 'NX', now, '@batch\n' .. ARGV[1])
end
return 2
