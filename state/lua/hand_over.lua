-- Queue the messages parked on a stage that has ended (park_waiter.lua), in one atomic step: each goes to
-- its client's lane of its priority band (priorities on), else to its Dramatiq queue as RedisBroker's enqueue
-- would put it there, with a wake-up token, and is noted as its
-- stage's latest message (field message:{task_name}, for the monitor's pending sweep); the parked entries and
-- marks are removed.
-- Refused when the entries changed since the caller read them (it reads and retries).
-- KEYS[1] workflow_state:{workflow_id} (hash)
-- KEYS[2 + 8 (i - 1)], +1, +2: entry i's Dramatiq queue list, message hash and wake-up list; +3..+7 its client's
--   lane in its priority band, the band's rotation and ages zset, the client weights hash and the queue's lane
--   tokens list (as create_stage.lua writes them; the queue list's key stands in when the entry has no client)
-- ARGV[1] the ended stage's task_name
-- ARGV[2] the parked entries as read (the field's whole value)
-- ARGV[3] wake-up tokens kept per queue
-- ARGV[4 + 6 (i - 1)], +1, +2, +3, +4, +5: entry i's queue, task_name, redis message id, encoded message,
--   client ('' = the queue's list) and the client's weight
-- returns the number of messages queued, or -1 when the entries changed
local field = 'waiters:' .. ARGV[1]
if redis.call('HGET', KEYS[1], field) ~= ARGV[2] then
  return -1
end
local queued = 0
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for k = 2, #KEYS, 8 do
  local a = 4 + 6 * queued
  local queue, waiter, id, client = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 4]
  redis.call('HSET', KEYS[k + 1], id, ARGV[a + 3])
  if client ~= '' then
    if redis.call('RPUSH', KEYS[k + 3], id) == 1 then
      redis.call('RPUSH', KEYS[k + 4], client)
    end
    redis.call('ZADD', KEYS[k + 5], now, client .. '\t' .. id)
    redis.call('HSET', KEYS[k + 6], client, ARGV[a + 5])
    redis.call('RPUSH', KEYS[k + 7], 1)
  else
    redis.call('RPUSH', KEYS[k], id)
  end
  redis.call('LPUSH', KEYS[k + 2], 1)
  redis.call('LTRIM', KEYS[k + 2], 0, tonumber(ARGV[3]) - 1)
  redis.call('HSET', KEYS[1], 'message:' .. waiter, queue .. '\n' .. id)
  redis.call('HDEL', KEYS[1], 'parked:' .. waiter)
  queued = queued + 1
end
redis.call('HDEL', KEYS[1], field)
return queued
