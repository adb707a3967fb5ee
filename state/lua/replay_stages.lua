-- Replay ended stages (POST /v1/tasks/retry): each goes back to PENDING with its new record (its earlier run
-- kept in the record's history) and its new Dramatiq message is queued, in one atomic step per stage, for up
-- to a page of stages per call. A stage whose revision moved since it was read is left alone.
-- KEYS[1] the live events stream (taskgate:events)
-- KEYS[2] index of PENDING stages (zset run id -> ms)
-- KEYS[3 + 4(i-1) .. 6 + 4(i-1)] per stage i: workflow_state:{id}, dramatiq:{queue}, dramatiq:{queue}.msgs,
--         taskgate:wake:{queue}
-- ARGV[1] ttl in ms
-- ARGV[2] events kept (the stream's approximate cap)
-- ARGV[3] wake-up tokens kept per queue
-- ARGV[4 + 7(i-1) .. 10 + 7(i-1)] per stage i: workflow_id, task_name, expected revision, new stage JSON,
--         Dramatiq message id, encoded message, queue name
-- returns one code per stage: 1 replayed, 0 its revision moved (left alone), -1 no such stage
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local done = {}
local stages = (#KEYS - 2) / 4
for i = 1, stages do
  local k, a = 3 + 4 * (i - 1), 4 + 7 * (i - 1)
  local state, queue, msgs, wake = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local wid, name, expected = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local rev = redis.call('HGET', state, 'rev:' .. name)
  if not rev then
    done[i] = -1
  elseif rev ~= expected then
    done[i] = 0
  else
    local new_rev = tonumber(rev) + 1
    redis.call('HSET', state, 'stage:' .. name, ARGV[a + 3], 'status:' .. name, 'PENDING', 'rev:' .. name, new_rev,
      'message:' .. name, ARGV[a + 6] .. '\n' .. ARGV[a + 4])
    redis.call('HDEL', state, 'cancel:' .. name, 'progress:' .. name)
    redis.call('PEXPIRE', state, ARGV[1])
    redis.call('ZADD', KEYS[2], now, wid .. '|' .. name)
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*',
      'type', 'stage', 'workflow_id', wid, 'task_name', name, 'status', 'PENDING', 'rev', new_rev)
    -- What Dramatiq's RedisBroker enqueue does (dispatch.lua "enqueue"), plus a wake-up token.
    redis.call('HSET', msgs, ARGV[a + 4], ARGV[a + 5])
    redis.call('RPUSH', queue, ARGV[a + 4])
    if redis.call('LLEN', wake) < tonumber(ARGV[3]) then
      redis.call('LPUSH', wake, 1)
    end
    done[i] = 1
  end
end
return done
