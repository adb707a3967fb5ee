-- One heartbeat round of a host's sidecar: every run it watches, and its live worker processes.
-- KEYS[1] runs (hash), KEYS[2] heartbeats (zset run id -> ms), KEYS[3] last beats (hash run id -> JSON),
-- KEYS[4] the host's runs (hash run id -> pid), KEYS[5] workers (zset "host:pid" -> ms),
-- KEYS[6] the live events stream (a worker not in KEYS[5] yet adds a 'worker' 'up' event),
-- KEYS[7..] workflow_state hash of each run, in ARGV's order
-- ARGV[1] events kept (the stream's approximate cap)
-- ARGV[2] number of runs n, then n triples: run id, alive (1|0), task_name; then worker members
-- returns now ms. A live run's heartbeat becomes now, a dead one's 0 (due at once); a run no longer
-- tracked is dropped from the host's hash (its worker ended it, or the monitor recovered it).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[2])
for i = 1, n do
  local id, alive, name = ARGV[3 * i], ARGV[3 * i + 1], ARGV[3 * i + 2]
  if redis.call('HEXISTS', KEYS[1], id) == 1 then
    local score = now
    if alive ~= '1' then
      score = 0
    end
    redis.call('ZADD', KEYS[2], 'XX', score, id)
    local progress = redis.call('HGET', KEYS[6 + i], 'progress:' .. name)
    local beat = {at_ms = now, alive = alive == '1'}
    if progress then
      beat.progress = tonumber(progress)
    end
    redis.call('HSET', KEYS[3], id, cjson.encode(beat))
  else
    redis.call('HDEL', KEYS[4], id)
  end
end
for i = 3 * n + 3, #ARGV do
  if redis.call('ZADD', KEYS[5], now, ARGV[i]) == 1 then
    redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[1], '*', 'type', 'worker', 'action', 'up', 'worker', ARGV[i])
  end
end
return now
