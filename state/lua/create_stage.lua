-- Create a stage of a workflow idempotently and, when it is new, queue its Dramatiq message in the same
-- atomic step (so an accepted stage always has its message).
-- KEYS[1] workflow_state:{workflow_id} (hash)
-- KEYS[2] index of all workflows (zset, score = created_at ms)
-- KEYS[3] index of workflows by task_name (zset)
-- KEYS[4] storage sweep (zset workflow_id -> ms of last activity; its folder is removed once that is old)
-- KEYS[5] index of PENDING stages (zset run id -> ms)
-- KEYS[6] the live events stream (taskgate:events): a new stage adds a 'stage' event (PENDING, rev 1)
-- KEYS[7] optional: the Dramatiq queue list (dramatiq:{queue})
-- KEYS[8] optional: the Dramatiq queue's message hash (dramatiq:{queue}.msgs)
-- KEYS[9] optional: the queue's wake-up list (taskgate:wake:{queue})
-- ARGV[1] task_name
-- ARGV[2] input hash (sha256 of task_name + input_data)
-- ARGV[3] stage record JSON (status PENDING)
-- ARGV[4] workflow meta JSON (used only when the workflow is new)
-- ARGV[5] ttl in ms
-- ARGV[6] now in ms
-- ARGV[7] workflow_id
-- ARGV[8] events kept (the stream's approximate cap)
-- ARGV[9] '1' when the workflow has a callback URL (the flag update_stage.lua reads), a stage name when only
--         that stage's ending is called back (a pipeline's own stage), else '0'
-- ARGV[10] '1' to drop index entries older than the ttl (the caller asks about once a second), else '0'
-- ARGV[11] optional: Dramatiq redis message id
-- ARGV[12] optional: encoded Dramatiq message
-- ARGV[13] optional: wake-up tokens kept
-- ARGV[14] optional: the queue's name
-- The stage's latest message is noted in the record (field message:{task_name} = "queue\nredis message id")
-- for the monitor's pending sweep.
-- returns {"created", {} when the workflow is new (the caller knows every field: it sent them) | HGETALL of
-- KEYS[1] as a flat list} | {"exists", HGETALL} | {"conflict", {}}
local name = ARGV[1]
local found = redis.call('HMGET', KEYS[1], 'hash:' .. name, 'latest')
if found[1] then
  if found[1] == ARGV[2] then
    return {'exists', redis.call('HGETALL', KEYS[1])}
  end
  return {'conflict', {}}
end
local fields = {
  'stage:' .. name, ARGV[3],
  'status:' .. name, 'PENDING',
  'rev:' .. name, 1,
  'hash:' .. name, ARGV[2],
  'latest', name}
if not found[2] then
  -- a new workflow (a hash without stages holds at most stray fields: its meta is written anew)
  table.insert(fields, 'meta')
  table.insert(fields, ARGV[4])
  table.insert(fields, 'has_callback')
  table.insert(fields, ARGV[9])
end
if KEYS[7] then
  table.insert(fields, 'message:' .. name)
  table.insert(fields, ARGV[14] .. '\n' .. ARGV[11])
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local now = tonumber(ARGV[6])
redis.call('ZADD', KEYS[2], now, ARGV[7])
redis.call('ZADD', KEYS[3], now, ARGV[7])
if ARGV[10] == '1' then
  local horizon = now - tonumber(ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', horizon)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', horizon)
end
redis.call('ZADD', KEYS[4], now, ARGV[7])
redis.call('ZADD', KEYS[5], now, ARGV[7] .. '|' .. name)
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[8], '*',
  'type', 'stage', 'workflow_id', ARGV[7], 'task_name', name, 'status', 'PENDING', 'rev', 1)
if KEYS[7] then
  -- What Dramatiq's RedisBroker enqueue does (dispatch.lua "enqueue"), plus a wake-up token.
  redis.call('HSET', KEYS[8], ARGV[11], ARGV[12])
  redis.call('RPUSH', KEYS[7], ARGV[11])
  if redis.call('LLEN', KEYS[9]) < tonumber(ARGV[13]) then  -- at the cap (consumers all busy) one read
    redis.call('LPUSH', KEYS[9], 1)
  end
end
if not found[2] then
  return {'created', {}}
end
return {'created', redis.call('HGETALL', KEYS[1])}
