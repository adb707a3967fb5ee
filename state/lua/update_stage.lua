-- Replace a stage record if nobody changed it since it was read (compare-and-set on its revision).
-- A move to a terminal status of a workflow with a callback also adds the stage end to the webhook
-- outbox, in the same atomic step, so the event survives any crash after the commit.
-- KEYS[1] workflow_state:{workflow_id} (hash)
-- KEYS[2] webhook outbox (zset "workflow_id\ntask_name\nstatus" -> ms it becomes due)
-- KEYS[3] optional: gpu_lock:{device}:holders (zset token -> expiry ms); the commit is fenced on it
--         (any key when ARGV[6] is empty)
-- KEYS[4] the live events stream (taskgate:events): every committed update adds a 'stage' event
-- KEYS[5...] optional: the keys that ARGV[9]'s commands name by index
-- ARGV[1] task_name
-- ARGV[2] expected revision; or "{revision}\n{message note}": the stage's latest message must also be that one
--         (field message:{task_name}, "queue\nredis message id": a start from the record its message carries)
-- ARGV[3] new status
-- ARGV[4] new stage record JSON
-- ARGV[5] ttl in ms ('0': an ending keeps the TTL the stage's submit set moments ago, state/records.py)
-- ARGV[6] optional: lease token that must still hold KEYS[3] ('' for no fence)
-- ARGV[7] workflow_id (for the event)
-- ARGV[8] events kept (the stream's approximate cap)
-- ARGV[9] optional: the number of commands that follow, applied only when the update is made; each is
--         name, key index (into KEYS), n, then n arguments. Commands: HINCRBY, HINCRBYFLOAT, HSET, HDEL, ZADD,
--         ZREM, SREM, RPUSH, LPUSH, LTRIM (a released scheduled stage's enqueue), and ZADD_AFTER (ZADD with score = server now ms + the given offset); state/effects.py
--         records them
-- The stage's fields and the effects' HSETs of KEYS[1] (a start's run record, state/tracking.py) are one HSET.
-- One HMGET reads what the update needs (revision, callback flag, waiters, progress, heartbeat flag); an end drops
-- the progress and heartbeat flag fields; the server's TIME is
-- read only when something uses it (a fence, a deadline, a webhook). A record created before the
-- has_callback flag existed has its meta read instead.
-- returns {1, new_rev, waiting} | {0, current_rev} on a lost race | {-1} no such stage | {-2} lease not held;
--         waiting is 1 when the update ended the stage and messages are parked on it (park_waiter.lua)
local name = ARGV[1]
local expected, note = ARGV[2], nil
local cut = string.find(expected, '\n', 1, true)
if cut then
  expected, note = string.sub(ARGV[2], 1, cut - 1), string.sub(ARGV[2], cut + 1)
end
local found = redis.call('HMGET', KEYS[1], 'rev:' .. name, 'has_callback', 'waiters:' .. name, 'progress:' .. name,
  'beat:' .. name, 'message:' .. name)
local rev = found[1]
if not rev then
  return {-1}
end
if rev ~= expected or (note and found[6] ~= note) then
  return {0, tonumber(rev)}
end
local now_ms
local function now()
  if not now_ms then
    local t = redis.call('TIME')
    now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now_ms
end
if KEYS[3] and ARGV[6] and ARGV[6] ~= '' then
  local expiry = redis.call('ZSCORE', KEYS[3], ARGV[6])
  if (not expiry) or tonumber(expiry) <= now() then
    return {-2}
  end
end
local new_rev = tonumber(rev) + 1
local waiting = 0
local fields = {'stage:' .. name, ARGV[4], 'status:' .. name, ARGV[3], 'rev:' .. name, new_rev}
local merged = {}  -- effects HSETs of this hash (the run's record) go into the one HSET, by their ARGV index
if ARGV[9] then
  local i = 10
  for _ = 1, tonumber(ARGV[9]) do
    local n = tonumber(ARGV[i + 2])
    if ARGV[i] == 'HSET' and KEYS[tonumber(ARGV[i + 1])] == KEYS[1] then
      for j = i + 3, i + 2 + n do
        fields[#fields + 1] = ARGV[j]
      end
      merged[i] = true
    end
    i = i + 3 + n
  end
end
redis.call('HSET', KEYS[1], unpack(fields))
if ARGV[3] ~= 'RUNNING' and ARGV[3] ~= 'PENDING' then
  if found[4] and found[5] then
    redis.call('HDEL', KEYS[1], 'progress:' .. name, 'beat:' .. name)
  elseif found[4] or found[5] then
    redis.call('HDEL', KEYS[1], (found[4] and 'progress:' or 'beat:') .. name)
  end
  if found[3] then
    waiting = 1
  end
  local callback = found[2]
  if not callback then
    callback = '0'
    local meta = redis.call('HGET', KEYS[1], 'meta')
    if meta then
      local decoded = cjson.decode(meta)
      if type(decoded.callback) == 'string' and decoded.callback ~= '' then
        callback = '1'
      end
    end
  end
  -- '1': every stage's ending is called back; a stage name: only that stage's (a pipeline's own stage)
  if callback == '1' or callback == name then
    redis.call('ZADD', KEYS[2], 'NX', now(), ARGV[7] .. '\n' .. name .. '\n' .. ARGV[3])
  end
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[8], '*',
  'type', 'stage', 'workflow_id', ARGV[7], 'task_name', name, 'status', ARGV[3], 'rev', new_rev)
if ARGV[9] then
  local allowed = {HINCRBY = true, HINCRBYFLOAT = true, HSET = true, HDEL = true, ZADD = true, ZREM = true, SREM = true,
    RPUSH = true, LPUSH = true, LTRIM = true}
  local i = 10
  for _ = 1, tonumber(ARGV[9]) do
    local command, key, n = ARGV[i], KEYS[tonumber(ARGV[i + 1])], tonumber(ARGV[i + 2])
    if merged[i] then  -- written with the stage above
    elseif command == 'ZADD_AFTER' then
      redis.call('ZADD', key, now() + tonumber(ARGV[i + 3]), ARGV[i + 4])
    elseif command == 'ZREM_BEATEN' then  -- a run's heartbeat exists once it beat (beat.lua flags the stage)
      if found[5] then
        redis.call('ZREM', key, ARGV[i + 3])
      end
    elseif allowed[command] then
      redis.call(command, key, unpack(ARGV, i + 3, i + 2 + n))
    else
      return redis.error_reply('update_stage: command not allowed in effects: ' .. tostring(command))
    end
    i = i + 3 + n
  end
end
-- a start keeps the ttl its submit (or last move) set; an ending renews it (but for a stage just created)
if ARGV[3] ~= 'RUNNING' and ARGV[5] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return {1, new_rev, waiting}
