-- Register a worker process before it fetches anything: its consumer (broker id and queues, what the monitor
-- needs to put back its fetched messages) and its entry among the worker processes, last seen now. A process
-- killed before its sidecar's first heartbeat lists it is then still known: its sidecar marks it gone, or
-- its entry goes silent and the monitor recovers it after the heartbeat timeout.
-- KEYS[1] worker consumers (hash "host:pid" -> JSON), KEYS[2] worker processes (zset "host:pid" -> ms),
-- KEYS[3] the live events stream
-- ARGV[1] "host:pid", ARGV[2] the consumer JSON, ARGV[3] events kept (the stream's approximate cap),
-- ARGV[4] 1: list the process (a sidecar heartbeats it), 0: record its consumer only (a bare Dramatiq pool)
-- returns now ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[4] == '1' and redis.call('ZADD', KEYS[2], now, ARGV[1]) == 1 then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'type', 'worker', 'action', 'up', 'worker', ARGV[1])
end
return now
