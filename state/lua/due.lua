-- What one monitor pass must act on: only the due head of each sorted set is read.
-- KEYS[1] heartbeats (zset run id -> ms of its last beat; 0 = its process is gone), KEYS[2] checks (zset run
-- id -> when the monitor must look at it next: heartbeat probe or tier deadline), KEYS[3] worker processes
-- (zset "host:pid" -> last seen ms; 0 = seen gone)
-- ARGV[1] heartbeat timeout ms, ARGV[2] most ids per list, ARGV[3] ms before which only heartbeats known
-- dead (score 0) count: the monitor could not reach Redis until then, nor could the sidecars beat
-- returns {now ms, dead ids, due checks (id, score, its heartbeat ms or '' when it never beat, ...),
-- dead workers, the cutoff ms they were read by}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[2])
local cutoff = now - tonumber(ARGV[1])
if now < tonumber(ARGV[3] or '0') then
  cutoff = 0
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff, 'LIMIT', 0, limit)
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
local checks = {}
for i = 1, #due, 2 do
  checks[#checks + 1] = due[i]
  checks[#checks + 1] = due[i + 1]
  checks[#checks + 1] = redis.call('ZSCORE', KEYS[1], due[i]) or ''
end
local workers = {}
if KEYS[3] then
  workers = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', cutoff, 'LIMIT', 0, limit)
end
return {now, dead, checks, workers, cutoff}
