-- One heartbeat round of a host's sidecar: every run it watches, and its live worker processes.
-- KEYS[1] the runs started before run records moved into their workflow's hash (hash run id -> record),
-- KEYS[2] heartbeats (zset run id -> ms; 0 = its process is gone), KEYS[3] workers (zset
-- "host:pid" -> ms), KEYS[4] the live events stream (a worker not in KEYS[3] yet adds a 'worker' 'up' event),
-- KEYS[4 + i] the workflow hash of the i-th run: it is tracked while its field run:{task_name} is not empty (or
-- it is in KEYS[1]); its first beat sets the stage's flag beat:{task_name}, which tells the script that moves
-- the stage out of RUNNING that the run has a heartbeat to remove (update_stage.lua)
-- ARGV[1] events kept (the stream's approximate cap)
-- ARGV[2] number of runs n, then n pairs: run id, alive (1|0); then worker members
-- returns {now ms, the run ids no longer tracked...}. A live run's heartbeat becomes now, a dead one's 0 (due at
-- once); a run no longer tracked (its worker ended it, or the monitor recovered it) is returned, so the sidecar
-- drops its note (actors/worker/local_runs.py). The last beat is the heartbeat's score: what the monitor's views
-- show of it (progress) is read from the stage's record.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[2])
local gone = {now}
for i = 1, n do
  local id, alive = ARGV[2 * i + 1], ARGV[2 * i + 2]
  local stage = string.sub(id, string.find(id, '|[^|]*$') + 1)
  local record = redis.call('HGET', KEYS[4 + i], 'run:' .. stage)
  if (record and record ~= '') or redis.call('HEXISTS', KEYS[1], id) == 1 then
    local score = now
    if alive ~= '1' then
      score = 0
    end
    if redis.call('ZADD', KEYS[2], score, id) == 1 then  -- its first beat adds it, and flags its stage
      redis.call('HSET', KEYS[4 + i], 'beat:' .. stage, 1)
    end
  else
    gone[#gone + 1] = id
  end
end
for i = 2 * n + 3, #ARGV do
  if redis.call('ZADD', KEYS[3], now, ARGV[i]) == 1 then
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[1], '*', 'type', 'worker', 'action', 'up', 'worker', ARGV[i])
  end
end
return gone
