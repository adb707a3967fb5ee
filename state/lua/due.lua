-- What one monitor pass must act on: only the due head of each sorted set is read.
-- KEYS[1] heartbeats (zset run id -> ms), KEYS[2] timeout checks (zset run id -> when the next tier is due),
-- KEYS[3] worker processes (zset "host:pid" -> last seen ms; 0 = seen gone)
-- ARGV[1] heartbeat timeout ms, ARGV[2] most ids per list, ARGV[3] ms before which only heartbeats known
-- dead (score 0) count: the monitor could not reach Redis until then, nor could the sidecars beat
-- returns {now ms, dead ids, due checks (id, score, ...), dead workers, the cutoff ms they were read by}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[2])
local cutoff = now - tonumber(ARGV[1])
if now < tonumber(ARGV[3] or '0') then
  cutoff = 0
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff, 'LIMIT', 0, limit)
local checks = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
local workers = {}
if KEYS[3] then
  workers = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', cutoff, 'LIMIT', 0, limit)
end
return {now, dead, checks, workers, cutoff}
