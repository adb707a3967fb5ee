-- Forget worker processes this pass found gone or silent and had nothing known to put back (they never
-- recorded their consumers), each with a 'worker' 'down' event. Only the members the pass read from the due
-- head: a worker that went silent after that read is the next pass's, recovered before it is forgotten.
-- KEYS[1] workers (zset "host:pid" -> last seen ms; 0 = seen gone), KEYS[2] the live events stream
-- ARGV[1] last seen at or before this ms counts as down (the pass's cutoff), ARGV[2] events kept (the
-- stream's approximate cap), ARGV[3..] the members
-- returns how many workers went down
local cutoff = tonumber(ARGV[1])
local down = 0
for i = 3, #ARGV do
  local seen = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if seen and tonumber(seen) <= cutoff then
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'type', 'worker', 'action', 'down', 'worker', ARGV[i])
    down = down + 1
  end
end
return down
