-- Create a stage of a workflow idempotently and, when it is new, queue its Dramatiq message in the same
-- atomic step (so an accepted stage always has its message).
-- KEYS[1] workflow_state:{workflow_id} (hash)
-- KEYS[2] index of all workflows (zset, score = created_at ms)
-- KEYS[3] index of workflows by task_name (zset)
-- KEYS[4] storage sweep (zset workflow_id -> ms of last activity; its folder is removed once that is old)
-- KEYS[5] index of PENDING stages (zset run id -> ms)
-- KEYS[6] latest message of each stage (hash run id -> "queue\nredis message id")
-- KEYS[7] the live events stream (taskgate:events): a new stage adds a 'stage' event (PENDING, rev 1)
-- KEYS[8] optional: the Dramatiq queue list (dramatiq:{queue})
-- KEYS[9] optional: the Dramatiq queue's message hash (dramatiq:{queue}.msgs)
-- KEYS[10] optional: the queue's wake-up list (taskgate:wake:{queue})
-- ARGV[1] task_name
-- ARGV[2] input hash (sha256 of task_name + input_data)
-- ARGV[3] stage record JSON (status PENDING)
-- ARGV[4] workflow meta JSON (used only when the workflow is new)
-- ARGV[5] ttl in ms
-- ARGV[6] now in ms
-- ARGV[7] workflow_id
-- ARGV[8] events kept (the stream's approximate cap)
-- ARGV[9] optional: Dramatiq redis message id
-- ARGV[10] optional: encoded Dramatiq message
-- ARGV[11] optional: wake-up tokens kept
-- ARGV[12] optional: the queue's name
-- returns {"created" | "exists" | "conflict", HGETALL of KEYS[1] as a flat list}
local name = ARGV[1]
local existing = redis.call('HGET', KEYS[1], 'hash:' .. name)
if existing then
  if existing == ARGV[2] then
    return {'exists', redis.call('HGETALL', KEYS[1])}
  end
  return {'conflict', {}}
end
if redis.call('HEXISTS', KEYS[1], 'meta') == 0 then
  redis.call('HSET', KEYS[1], 'meta', ARGV[4])
end
redis.call('HSET', KEYS[1],
  'stage:' .. name, ARGV[3],
  'status:' .. name, 'PENDING',
  'rev:' .. name, 1,
  'hash:' .. name, ARGV[2],
  'latest', name)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local now = tonumber(ARGV[6])
local horizon = now - tonumber(ARGV[5])
redis.call('ZADD', KEYS[2], now, ARGV[7])
redis.call('ZADD', KEYS[3], now, ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', horizon)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', horizon)
redis.call('ZADD', KEYS[4], now, ARGV[7])
local run = ARGV[7] .. '|' .. name
redis.call('ZADD', KEYS[5], now, run)
redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[8], '*',
  'type', 'stage', 'workflow_id', ARGV[7], 'task_name', name, 'status', 'PENDING', 'rev', 1)
if KEYS[8] then
  -- What Dramatiq's RedisBroker enqueue does (dispatch.lua "enqueue"), plus a wake-up token.
  redis.call('HSET', KEYS[9], ARGV[9], ARGV[10])
  redis.call('RPUSH', KEYS[8], ARGV[9])
  redis.call('LPUSH', KEYS[10], 1)
  redis.call('LTRIM', KEYS[10], 0, tonumber(ARGV[11]) - 1)
  redis.call('HSET', KEYS[6], run, ARGV[12] .. '\n' .. ARGV[9])
end
return {'created', redis.call('HGETALL', KEYS[1])}
