-- Forget worker processes whose sidecar stopped reporting them, each with a 'worker' 'down' event.
-- KEYS[1] workers (zset "host:pid" -> last seen ms), KEYS[2] the live events stream
-- ARGV[1] last seen at or before this ms counts as down, ARGV[2] events kept (the stream's approximate cap)
-- returns how many workers went down
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, worker in ipairs(gone) do
  redis.call('ZREM', KEYS[1], worker)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'type', 'worker', 'action', 'down', 'worker', worker)
end
return #gone
