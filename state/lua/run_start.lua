-- Track a stage run that just started: its record, a first heartbeat and one deadline per timeout tier.
-- KEYS[1] runs (hash run id -> JSON), KEYS[2] heartbeats (zset run id -> ms),
-- KEYS[3] warning deadlines, KEYS[4] soft deadlines, KEYS[5] hard deadlines (zsets run id -> ms),
-- KEYS[6] the host's runs (hash run id -> pid)
-- ARGV[1] run id, ARGV[2] run JSON, ARGV[3] warning ms, ARGV[4] soft ms, ARGV[5] hard ms, ARGV[6] pid
-- returns now ms (server TIME): deadlines are now + each tier
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
redis.call('HSET', KEYS[1], id, ARGV[2])
redis.call('ZADD', KEYS[2], now, id)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), id)
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[4]), id)
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[5]), id)
redis.call('HSET', KEYS[6], id, ARGV[6])
return now
