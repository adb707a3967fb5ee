-- Create a stage of a workflow idempotently and, when it is new, queue its Dramatiq message in the same
-- atomic step (so an accepted stage always has its message), or keep the message until the stage's run_at
-- (a SCHEDULED stage). With an API key, the key's limits are checked and its counts kept in the same step.
-- KEYS[1] workflow_state:{workflow_id} (hash)
-- KEYS[2] index of all workflows (zset, score = created_at ms)
-- KEYS[3] index of workflows by task_name (zset)
-- KEYS[4] unused (any key): a workflow joins the storage sweep when a stage makes its folder (state/retention.py)
-- KEYS[5] index of PENDING stages (zset run id -> ms)
-- KEYS[6] the live events stream (taskgate:events): a new stage adds a 'stage' event (PENDING or SCHEDULED,
--         rev 1); a refusal a 'throttle' event (key, task_name, limit, value, current)
-- KEYS[7] the Dramatiq queue list (dramatiq:{queue}); any key when ARGV[11] is ''
-- KEYS[8] the Dramatiq queue's message hash (dramatiq:{queue}.msgs); any key when ARGV[11] is ''
-- KEYS[9] the queue's wake-up list (taskgate:wake:{queue}); any key when ARGV[11] is ''
-- KEYS[10] the SCHEDULED stages (zset run id -> run_at ms)
-- KEYS[11] limits set at run time (hash key name -> limits JSON)
-- KEYS[12] the client's lane in the stage's priority band (taskgate:lane:{queue}:{priority}:{client}); with
--   ARGV[18] the message id goes there instead of onto KEYS[7] (priorities on; actors/worker/lua/fetch.lua)
-- KEYS[13] the band's rotation of clients with work, KEYS[14] the band's ages zset, KEYS[15] the client
--   weights hash, KEYS[16] the queue's lane tokens list (one per message in its lanes); any keys without ARGV[18]
-- KEYS[17] the search facets' registry (zset facet index key -> ms of its last write)
-- KEYS[18 .. 17+n] the search facet indexes of a new workflow (by key, tenant, label; zsets, score = now ms)
-- KEYS[18+n .. 20+n] optional (with ARGV[16]): the key's queued, running and submits zsets (run id -> ms)
-- KEYS[21+n .. 23+n] optional (with ARGV[16]): the same for the key and this task_name
-- ARGV[1] task_name
-- ARGV[2] input hash (sha256 of task_name + input_data)
-- ARGV[3] stage record JSON (status PENDING, or SCHEDULED when ARGV[15] > 0)
-- ARGV[4] workflow meta JSON (used only when the workflow is new)
-- ARGV[5] ttl in ms
-- ARGV[6] now in ms
-- ARGV[7] workflow_id
-- ARGV[8] events kept (the stream's approximate cap)
-- ARGV[9] '1' when the workflow has a callback URL (the flag update_stage.lua reads), a stage name when only
--         that stage's ending is called back (a pipeline's own stage), else '0'
-- ARGV[10] '1' to drop index entries older than the ttl (the caller asks about once a second), else '0'
-- ARGV[11] Dramatiq redis message id ('' for none)
-- ARGV[12] encoded Dramatiq message
-- ARGV[13] wake-up tokens kept
-- ARGV[14] the queue's name
-- ARGV[15] run_at ms: > 0 keeps the message in field scheduled:{task_name} and the stage SCHEDULED until then
-- ARGV[16] the API key name ('' when keys are off: nothing is counted or limited)
-- ARGV[17] the key's limits JSON from the settings file ('' for none); KEYS[11]'s entry replaces it
-- ARGV[18] the client of the stage's lane ('' for the queue's plain list), ARGV[19] its weight
-- ARGV[20] n, the number of facet indexes (written only when the workflow is new)
-- The stage's latest message is noted in the record (field message:{task_name} = "queue\nredis message id")
-- for the monitor's pending sweep.
-- Limits JSON: {max_running, max_queued, submits_per_minute, per_task: {task_name: {the same three}}}; a
-- count at its limit refuses the submit. A queued or running count found at its limit first drops run ids
-- older than the ttl (their records expired). A submit is recorded in a per-minute window (server TIME) only
-- where a submits_per_minute limit applies; each check drops the entries older than a minute.
-- returns {"created", {} when the workflow is new (the caller knows every field: it sent them) | HGETALL of
-- KEYS[1] as a flat list} | {"exists", HGETALL} | {"conflict", {}} |
-- {"limited", limit name, limit value, current count, ms until the window frees (-1: unknown)}
local name = ARGV[1]
local facets = tonumber(ARGV[20])
local found = redis.call('HMGET', KEYS[1], 'hash:' .. name, 'latest')
if found[1] then
  if found[1] == ARGV[2] then
    return {'exists', redis.call('HGETALL', KEYS[1])}
  end
  return {'conflict', {}}
end
local rid = ARGV[7] .. '|' .. name
local key_name = ARGV[16]
-- the per-minute windows this submit is recorded in (only where such a limit applies: unbounded otherwise)
local windows = {}
local clock
if key_name ~= '' then
  local raw = redis.call('HGET', KEYS[11], key_name)
  if not raw then
    raw = ARGV[17]
  end
  local limits = {}
  if raw ~= '' then
    limits = cjson.decode(raw)
  end
  local function count(kind, k, value)
    if kind == 'submits_per_minute' then
      if not clock then
        local t = redis.call('TIME')
        clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      end
      redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', clock - 60000)
      table.insert(windows, k)
      return redis.call('ZCARD', KEYS[k])
    end
    local current = redis.call('ZCARD', KEYS[k])
    if current >= value then  -- at the limit: drop ids whose record expired, and count again
      redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', tonumber(ARGV[6]) - tonumber(ARGV[5]))
      current = redis.call('ZCARD', KEYS[k])
    end
    return current
  end
  local function over(set, prefix, first)
    if type(set) ~= 'table' then
      return nil
    end
    local checks = {{'max_queued', first}, {'max_running', first + 1}, {'submits_per_minute', first + 2}}
    for _, check in ipairs(checks) do
      local kind, k = check[1], check[2]
      local value = set[kind]
      if type(value) == 'number' then
        local current = count(kind, k, value)
        if current >= value then
          local wait = -1
          if kind == 'submits_per_minute' then
            local oldest = redis.call('ZRANGE', KEYS[k], current - value, current - value, 'WITHSCORES')
            wait = math.max(0, tonumber(oldest[2] or clock) + 60000 - clock)
          end
          return {'limited', prefix .. kind, value, current, wait}
        end
      end
    end
    return nil
  end
  local refused = over(limits, '', 18 + facets)
  if not refused and type(limits.per_task) == 'table' then
    refused = over(limits.per_task[name], 'per_task.' .. name .. '.', 21 + facets)
  end
  if refused then
    redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[8], '*', 'type', 'throttle', 'key', key_name,
      'workflow_id', ARGV[7], 'task_name', name, 'limit', refused[2], 'value', refused[3], 'current', refused[4])
    return refused
  end
end
local run_at = tonumber(ARGV[15])
local status = 'PENDING'
if run_at > 0 then
  status = 'SCHEDULED'
end
local fields = {
  'stage:' .. name, ARGV[3],
  'status:' .. name, status,
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
local message = ARGV[11] ~= ''
if message and run_at > 0 then
  table.insert(fields, 'scheduled:' .. name)
  table.insert(fields, ARGV[14] .. '\t' .. name .. '\t' .. ARGV[11] .. '\t' .. ARGV[12])
elseif message then
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
  if not found[2] then
    for i = 18, 17 + facets do
      redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', horizon)
    end
  end
end
if not found[2] then
  for i = 18, 17 + facets do
    redis.call('ZADD', KEYS[i], now, ARGV[7])
    redis.call('ZADD', KEYS[17], now, KEYS[i])
  end
end
if run_at > 0 then
  redis.call('ZADD', KEYS[10], run_at, rid)
else
  redis.call('ZADD', KEYS[5], now, rid)
end
if key_name ~= '' then
  redis.call('ZADD', KEYS[18 + facets], now, rid)
  redis.call('ZADD', KEYS[21 + facets], now, rid)
  for _, k in ipairs(windows) do
    redis.call('ZADD', KEYS[k], clock, rid)
  end
end
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[8], '*',
  'type', 'stage', 'workflow_id', ARGV[7], 'task_name', name, 'status', status, 'rev', 1)
if message and run_at <= 0 then
  local waiting
  -- What Dramatiq's RedisBroker enqueue does (dispatch.lua "enqueue"), plus a wake-up token.
  redis.call('HSET', KEYS[8], ARGV[11], ARGV[12])
  if ARGV[18] ~= '' then
    if redis.call('RPUSH', KEYS[12], ARGV[11]) == 1 then
      redis.call('RPUSH', KEYS[13], ARGV[18])  -- the client has work again: it joins the rotation, last
      redis.call('HSET', KEYS[15], ARGV[18], ARGV[19])  -- with its key's weight (a change applies at a join)
    end
    redis.call('ZADD', KEYS[14], now, ARGV[18] .. '\t' .. ARGV[11])
    waiting = redis.call('RPUSH', KEYS[16], 1)
  else
    waiting = redis.call('RPUSH', KEYS[7], ARGV[11])
  end
  -- Only the first message into an empty queue wakes a consumer: with others waiting, a consumer has been woken
  -- for them and has not fetched yet (its fetch takes this one too), or a fetch left them behind because its
  -- consumer was full, and that fetch woke the next consumer (fetch.lua).
  if waiting == 1 and redis.call('LPUSH', KEYS[9], 1) > tonumber(ARGV[13]) then
    redis.call('LTRIM', KEYS[9], 0, tonumber(ARGV[13]) - 1)
  end
end
if not found[2] then
  return {'created', {}}
end
return {'created', redis.call('HGETALL', KEYS[1])}
