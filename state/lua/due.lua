-- What one monitor pass must act on: only the due head of each sorted set is read.
-- KEYS[1] heartbeats (zset run id -> ms), KEYS[2] warning, KEYS[3] soft, KEYS[4] hard deadlines
-- ARGV[1] heartbeat timeout ms, ARGV[2] most ids per list
-- returns {now ms, dead ids, hard ids, soft ids, warning ids}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, limit)
local hard = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, limit)
local soft = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
local warning = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
return {now, dead, hard, soft, warning}
