-- Put back what a dead Dramatiq worker process fetched and never acked (what Dramatiq's maintenance pass
-- does for a stale broker, but for this one process, at once, and at the head of each queue so the
-- messages keep their turn), wake each queue's consumers, and forget the process (a 'worker' 'down' event).
-- KEYS[1] worker consumers (hash "host:pid" -> JSON), KEYS[2] worker processes (zset "host:pid" -> ms),
-- KEYS[3] Dramatiq's heartbeats (zset broker id -> ms), KEYS[4] the live events stream
-- KEYS[5..] four per queue: the dead broker's ack set, the queue's list, its message hash, its wake-up list
-- ARGV[1] "host:pid", ARGV[2] broker id, ARGV[3] wake-up tokens kept, ARGV[4] events kept (the stream's cap)
-- returns the number of messages put back
local total = 0
for i = 5, #KEYS, 4 do
  local back = 0
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[i])) do
    if redis.call('HEXISTS', KEYS[i + 2], id) == 1 then
      redis.call('LPUSH', KEYS[i + 1], id)
      back = back + 1
    end
  end
  redis.call('DEL', KEYS[i])
  if back > 0 then
    redis.call('LPUSH', KEYS[i + 3], 1)
    redis.call('LTRIM', KEYS[i + 3], 0, tonumber(ARGV[3]) - 1)
  end
  total = total + back
end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 'type', 'worker', 'action', 'down', 'worker', ARGV[1])
end
redis.call('ZREM', KEYS[3], ARGV[2])
return total
